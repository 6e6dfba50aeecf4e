"""Loopback stand-ins for the vendors docflow talks to (Core Signature, Content Server, CRM).

Each module's `create_app(config)` returns a FastAPI app; `simulators.kit.server.ServedApp` runs it.
"""
