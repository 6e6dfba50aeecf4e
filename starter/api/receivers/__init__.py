"""Webhook receivers, one module per sending system: verify, then hand over to the workflow."""
