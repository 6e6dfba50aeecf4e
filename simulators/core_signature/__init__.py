"""OpenText Core Signature simulator (SignRequest-shaped REST API, OAuth2, event callbacks).

The control API under `/_control/` plays the humans (view, sign, decline, ...) and the
vendor's bad days (API faults, lost/duplicated/late/reordered callbacks).

Autopilot (for hands-free demos): when `autopilot.enabled`, each document gets one action
once its signature request is sent, `after_ms` later. The action comes from the first rule
whose `match` text occurs (case-insensitive) in the document's external_id or in any
signer's e-mail, else from `autopilot.action` (None = leave it to a human). The default
rules use e-mail tags: `+sign`, `+decline`, `+expire`, `+bounce`, `+view`, and `+manual`
(no action), so `sign+decline@example.com` declines. "sign" views and then signs for every
signer; "decline" and "bounce" act for the first signer that has not signed. Set it in
`CoreSignatureConfig.autopilot` or with `PUT /_control/autopilot`.
"""

from simulators.core_signature.api import create_app
from simulators.core_signature.config import (
    AutopilotRule,
    AutopilotSettings,
    CoreSignatureConfig,
)
from simulators.core_signature.sim import CoreSignatureSim, event_hash

__all__ = [
    "AutopilotRule",
    "AutopilotSettings",
    "CoreSignatureConfig",
    "CoreSignatureSim",
    "create_app",
    "event_hash",
]
