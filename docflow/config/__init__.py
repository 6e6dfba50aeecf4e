"""Configuration bundles: one directory per environment, one pydantic schema per concern."""
