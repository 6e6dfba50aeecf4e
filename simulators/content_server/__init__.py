"""OpenText Content Server (Extended ECM) REST simulator: tickets, nodes, workspaces, RM.

Bodies are form or multipart (a JSON payload travels as the form field `body`), errors are
`{"error": ...}`, as on the real server. Optionally it sends node events as Standard
Webhooks to `events_url` (our design; Content Server has no such push of its own).
"""

from simulators.content_server.api import create_app
from simulators.content_server.config import ContentServerConfig
from simulators.content_server.sim import ContentServerSim

__all__ = ["ContentServerConfig", "ContentServerSim", "create_app"]
