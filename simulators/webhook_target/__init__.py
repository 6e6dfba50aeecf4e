"""One configurable signed-webhook sink for every downstream system docflow delivers to.

Partner portals, the ERP catalogue, B2B networks and event subscribers are all "verify a
signed POST, answer per control knobs": each is a named endpoint here (`POST /{endpoint}`).
"""

from simulators.webhook_target.api import create_app
from simulators.webhook_target.sim import (
    EndpointSettings,
    ScriptedAnswer,
    WebhookTargetConfig,
    WebhookTargetSim,
)

__all__ = [
    "EndpointSettings",
    "ScriptedAnswer",
    "WebhookTargetConfig",
    "WebhookTargetSim",
    "create_app",
]
