"""Loopback stand-ins for the systems docflow talks to, one package per vendor, built on `kit/`.

Each package's `create_app(config)` returns a FastAPI app; `simulators.kit.server.ServedApp`
runs it. `webhook_target/` stands in for every downstream system that receives signed webhooks.
"""
