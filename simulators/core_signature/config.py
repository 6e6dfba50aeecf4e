"""Configuration of the Core Signature simulator, including the demo autopilot."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from simulators.kit.delivery import DeliveryFaults, RetryPolicy
from simulators.kit.faults import FaultSettings

AutopilotAction = Literal["sign", "decline", "expire", "bounce", "view"]


class AutopilotRule(BaseModel):
    match: str = Field(description="Text looked for in the external_id and signer e-mails.")
    action: AutopilotAction | None
    after_ms: int | None = Field(default=None, ge=0, description="Overrides autopilot.after_ms.")
    reason: str = "Declined by autopilot."


def default_autopilot_rules() -> list[AutopilotRule]:
    tags: list[tuple[str, AutopilotAction | None]] = [
        ("+sign@", "sign"),
        ("+decline@", "decline"),
        ("+expire@", "expire"),
        ("+bounce@", "bounce"),
        ("+view@", "view"),
        ("+manual@", None),
    ]
    return [AutopilotRule(match=match, action=action) for match, action in tags]


class TemplateSeed(BaseModel):
    """A template as the web UI makes it (the API has no create call)."""

    name: str = Field(min_length=1, max_length=255)
    who: Literal["o", "m", "mo"] = "o"
    signers: int = Field(default=2, ge=1, le=20, description="Signer slots of the template.")


def default_templates() -> list[TemplateSeed]:
    """The templates the bundles' signing routing rules name (`signature_template`)."""
    return [
        TemplateSeed(name="sales-contract-v3"),
        TemplateSeed(name="mutual-nda-v2"),
        TemplateSeed(name="employment-v1", signers=1),
    ]


class AutopilotSettings(BaseModel):
    enabled: bool = False
    action: AutopilotAction | None = Field(default=None, description="When no rule matches.")
    after_ms: int = Field(default=300, ge=0)
    rules: list[AutopilotRule] = Field(default_factory=default_autopilot_rules)


class CoreSignatureConfig(BaseModel):
    seed: int = 0
    tenant: str = "docflow"
    client_id: str = "docflow-dev"
    client_secret: str = "dev-core-signature-secret"
    token_ttl_s: int = Field(default=900, ge=1, description="OCP client-credentials: 900 s.")
    event_hash_key: str = "dev-event-hash-key"
    team_name: str = "docflow (simulated)"
    team_subdomain: str = "docflow"
    token_name: str = "docflow"
    public_url: str | None = Field(
        default=None, description="Base of absolute URLs; default: the URL the client used."
    )
    convert_delay_ms: int = Field(default=50, ge=0, description="Time in status 'co'.")
    file_url_ttl_s: int = Field(default=300, ge=1, description="Validity of pdf/log URLs.")
    page_size: int = Field(default=20, ge=1)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    # The vendor's policy (only a timeout or a 500 is retried; 1 minute, then Fibonacci minutes,
    # 10 attempts), with the minute compressed to 0.1 s for the demo and the tests.
    callback_retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy.core_signature(minute_s=0.1, timeout_s=5.0)
    )
    callback_faults: DeliveryFaults = Field(default_factory=DeliveryFaults)
    autopilot: AutopilotSettings = Field(default_factory=AutopilotSettings)
    templates: list[TemplateSeed] = Field(default_factory=default_templates)
