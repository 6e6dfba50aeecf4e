"""The API's routes, one module per process or concern (documents, signing, health)."""
