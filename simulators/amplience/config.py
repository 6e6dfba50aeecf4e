"""Configuration of the Amplience Dynamic Content simulator."""

from __future__ import annotations

from pydantic import BaseModel, Field

from simulators.kit.delivery import DeliveryFaults, RetryPolicy
from simulators.kit.faults import FaultSettings


class SeedWorkflowState(BaseModel):
    id: str
    label: str
    color: str


def default_workflow_states() -> list[SeedWorkflowState]:
    # Amplience ids are 24-hex-digit object ids.
    return [
        SeedWorkflowState(id="5f1a0c1e2b3c4d5e6f700001", label="Draft", color="rgb(204,204,204)"),
        SeedWorkflowState(id="5f1a0c1e2b3c4d5e6f700002", label="Approved", color="rgb(61,186,94)"),
        SeedWorkflowState(
            id="5f1a0c1e2b3c4d5e6f700003", label="Distributed", color="rgb(35,116,206)"
        ),
        SeedWorkflowState(
            id="5f1a0c1e2b3c4d5e6f700004", label="Integration failed", color="rgb(230,60,60)"
        ),
    ]


class AmplienceConfig(BaseModel):
    seed: int = 0
    hub_id: str = "5b32377e4cedfd01c45036d8"
    hub_name: str = "docflow"
    repository_id: str = "5b32377b4cedfd01c4503691"
    client_id: str = "docflow-dev"
    client_secret: str = "dev-amplience-secret"
    token_ttl_s: int = Field(default=300, ge=1, description="Amplience: about 300 s.")
    public_url: str | None = Field(
        default=None, description="Base of absolute URLs; default: the URL the client used."
    )
    page_size: int = Field(default=20, ge=1, le=100)
    workflow_states: list[SeedWorkflowState] = Field(default_factory=default_workflow_states)
    webhook_url: str | None = Field(default=None, description="Where webhooks go (one handler).")
    webhook_secret: str = "dev-amplience-webhook-secret"
    publish_limit: int = Field(
        default=100, ge=1, description="Publish + unpublish calls per window (Amplience: 100/min)."
    )
    publish_window_s: float = Field(default=60.0, gt=0)
    job_step_ms: int = Field(
        default=30, ge=0, description="Time a publishing job spends in each state."
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)
    # Amplience documents no retry policy for webhooks: one attempt (treat as at-most-once).
    webhook_retry: RetryPolicy = Field(
        default_factory=lambda: RetryPolicy(max_attempts=1, timeout_s=5.0)
    )
    webhook_faults: DeliveryFaults = Field(default_factory=DeliveryFaults)
