"""One configurable signed-webhook sink for every downstream system docflow delivers to.

Partner portals, the ERP catalogue, B2B networks and event subscribers are all "verify a
signed POST, answer per control knobs": each is a named endpoint here (`POST /{endpoint}`),
with its own secret and knobs, so one server plays several subscribers at once.
"""

from simulators.webhook_target.api import create_app
from simulators.webhook_target.sim import (
    EndpointChanges,
    EndpointSettings,
    ScriptedAnswer,
    WebhookTargetConfig,
    WebhookTargetSim,
)

__all__ = [
    "EndpointChanges",
    "EndpointSettings",
    "ScriptedAnswer",
    "WebhookTargetConfig",
    "WebhookTargetSim",
    "create_app",
]
