"""Amplience Dynamic Content simulator (OAuth, content items, workflow, publishing, CD2, webhooks).

Faithful to `external-apis.md` §3 and `vendor-apis-evidence.md` B.3: credentials in the token
form body (HTTP Basic is not read), ~300 s tokens, HAL pages, optimistic locking on `version`
(a stale version is 409 with `{"errors":[...]}` - the real status is undocumented, a GUESS),
publish answering 204 with no body and `Location: .../publishing-jobs/{id}`, jobs going
PREPARING -> PUBLISHING -> COMPLETED (or FAILED), Content Delivery 2 serving the last
published version only, webhooks in the real envelope signed with
`X-Amplience-Webhook-Signature` = base64(HMAC-SHA256(secret, raw body)), and 429 over the
publish + unpublish limit (100 per minute; no Retry-After, as none is documented).

The control API under `/_control/` plays the content team (seed, edit, move to a workflow
state), steers publishing (fail the next jobs, the limit) and shows the webhooks sent.
"""

from simulators.amplience.api import create_app
from simulators.amplience.config import AmplienceConfig, SeedWorkflowState
from simulators.amplience.sim import SIGNATURE_HEADER, AmplienceSim, webhook_signature

__all__ = [
    "SIGNATURE_HEADER",
    "AmplienceConfig",
    "AmplienceSim",
    "SeedWorkflowState",
    "create_app",
    "webhook_signature",
]
