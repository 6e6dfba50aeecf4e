"""State of the webhook target: named endpoints, each with its secret, inbox and knobs.

One server plays several subscribers at once: each endpoint name is a subscriber with its own
secret, knobs (down, gone, slow, scripted answers such as 429 + Retry-After or abort-message,
required fields, rate limit), answers log and inbox (deduplicated by webhook-id, in arrival
order)."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from simulators.kit.faults import FaultInjector, FaultSettings
from simulators.kit.inbox import SignedInbox


class ScriptedAnswer(BaseModel):
    """How to answer one authentic delivery attempt."""

    status: int = Field(ge=200, le=599)
    retry_after_s: int | None = Field(default=None, ge=0, description="Sent as Retry-After.")
    abort: bool = Field(
        default=False, description="Send `webhook-delivery: abort-message` (stop retrying)."
    )
    body: dict[str, Any] | None = Field(
        default=None, description='Response body; default `{"error": "scripted <status>"}`.'
    )


class EndpointSettings(BaseModel):
    """Knobs of one endpoint, as set by `PUT /_control/endpoints/{endpoint}` (replaced whole)."""

    secret: str | None = Field(
        default=None, description="Standard Webhooks secret; required for a new endpoint."
    )
    script: list[ScriptedAnswer] = Field(
        default_factory=list,
        description="Answers to the next authentic attempts, in order (a bare status is "
        "allowed: [503, 503, 200]); afterwards every attempt is accepted with 200.",
    )
    latency_ms: int = Field(default=0, ge=0, description="Added to every call.")
    gone: bool = Field(default=False, description="Answer 410 Gone to every call.")
    down: bool = Field(
        default=False, description="Answer 503 (no Retry-After) to every call, like `gone`."
    )
    required_fields: list[str] = Field(
        default_factory=list,
        description="Fields the message's `data` must carry non-empty (dotted for nested "
        "ones: `content.currency`); else 422 with a validation body "
        '`{"errors":[{"field", "message": "is required"}]}`.',
    )
    rate_limit_per_s: float | None = Field(
        default=None, gt=0, description="Over it: 429 with `Retry-After: 1`; None: no limit."
    )

    @field_validator("script", mode="before")
    @classmethod
    def _bare_statuses(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"status": v} if isinstance(v, int) else v for v in value]
        return value


class EndpointChanges(BaseModel):
    """`PATCH /_control/endpoints/{endpoint}`: only the knobs given change (a subscriber
    going down and coming back keeps its other knobs)."""

    secret: str | None = None
    script: list[ScriptedAnswer] | None = Field(
        default=None, description="Replaces the answers left to give."
    )
    latency_ms: int | None = Field(default=None, ge=0)
    gone: bool | None = None
    down: bool | None = None
    required_fields: list[str] | None = None
    rate_limit_per_s: float | None = Field(default=None, gt=0)

    @field_validator("script", mode="before")
    @classmethod
    def _bare_statuses(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"status": v} if isinstance(v, int) else v for v in value]
        return value


class WebhookTargetConfig(BaseModel):
    seed: int = 0
    endpoints: dict[str, str] = Field(
        default_factory=dict, description="Endpoints served from the start: name -> secret."
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)


@dataclass
class Endpoint:
    """One named receiver: its inbox (accepted, deduplicated), knobs and every answer given."""

    name: str
    inbox: SignedInbox
    settings: EndpointSettings
    script: deque[ScriptedAnswer]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    _window: deque[float] = field(default_factory=deque)

    @classmethod
    def create(cls, name: str, secret: str, settings: EndpointSettings) -> Endpoint:
        settings = settings.model_copy(update={"secret": secret})
        return cls(name, SignedInbox(name, secret), settings, deque(settings.script))

    def answered(self, webhook_id: str | None, status: int) -> None:
        self.attempts.append(
            {"webhook_id": webhook_id, "status": status, "at": datetime.now(UTC).isoformat()}
        )

    def over_rate_limit(self, now: float) -> bool:
        """Count this attempt in a sliding one-second window; True if it is over the limit."""
        limit = self.settings.rate_limit_per_s
        if limit is None:
            return False
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= limit:
            return True
        self._window.append(now)
        return False

    def missing_fields(self, payload: Any) -> list[str]:
        """Required fields the message's `data` lacks or has empty."""
        data = payload.get("data") if isinstance(payload, dict) else None
        data = data if isinstance(data, dict) else {}

        def value(path: str) -> Any:
            found: Any = data
            for part in path.split("."):
                found = found.get(part) if isinstance(found, dict) else None
            return found

        return [f for f in self.settings.required_fields if value(f) in (None, "", [], {})]

    def received(self, after: int = 0) -> dict[str, Any]:
        """What this subscriber accepted, in arrival order (of each webhook-id's first accepted
        copy), compact: `seq` (1-based arrival position), webhook-id, type, `node_id` /
        `node_version` (from `data.node` when present), copies accepted, and attempts answered
        for that webhook-id (any status); `by_node` the same per document, in arrival order;
        `duplicate_ids` the webhook-ids accepted more than once. `after` skips the first
        `after` messages (a poll)."""
        tried = Counter(a["webhook_id"] for a in self.attempts)
        results = []
        for seq, message in enumerate(self.inbox.messages.values(), start=1):
            if seq <= after:
                continue
            node_id, node_version = _node_of(message.payload)
            results.append(
                {
                    "seq": seq,
                    "webhook_id": message.webhook_id,
                    "type": message.payload.get("type"),
                    "node_id": node_id,
                    "node_version": node_version,
                    "received_at": message.received_at.isoformat(),
                    "deliveries": message.deliveries,
                    "attempts": tried[message.webhook_id],
                }
            )
        by_node: dict[str, list[dict[str, Any]]] = {}
        for item in results:
            if item["node_id"] is not None:
                by_node.setdefault(str(item["node_id"]), []).append(
                    {k: item[k] for k in ("seq", "type", "node_version", "webhook_id")}
                )
        return {
            "endpoint": self.name,
            "count": len(self.inbox.messages),
            "next": len(self.inbox.messages),
            "duplicates": self.inbox.duplicates,
            "duplicate_ids": {
                m.webhook_id: m.deliveries for m in self.inbox.messages.values() if m.deliveries > 1
            },
            "rejected": self.inbox.rejected,
            "results": results,
            "by_node": by_node,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.name,
            "settings": self.settings.model_dump(exclude={"secret"}),
            "script_left": [a.model_dump() for a in self.script],
            "received": len(self.inbox.messages),
            "duplicates": self.inbox.duplicates,
            "rejected": self.inbox.rejected,
            "attempts": self.attempts,
        }


class WebhookTargetSim:
    """All endpoints; reachable as `app.state.sim`."""

    def __init__(self, config: WebhookTargetConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.reset()

    def reset(self) -> None:
        """Back to the configured endpoints, with no knobs set and nothing received."""
        self.endpoints = {
            name: Endpoint.create(name, secret, EndpointSettings())
            for name, secret in self.config.endpoints.items()
        }
        self.faults.configure(self.config.faults)

    def configure(self, name: str, settings: EndpointSettings) -> Endpoint:
        """Set an endpoint's knobs (creating it when new); what it received is kept."""
        current = self.endpoints.get(name)
        secret = settings.secret or (current.settings.secret if current else None)
        if secret is None:
            raise ValueError(f"endpoint {name!r} is new: its secret is required")
        endpoint = Endpoint.create(name, secret, settings)
        if current is not None:
            endpoint.inbox, endpoint.attempts = current.inbox, current.attempts
            endpoint._window = current._window
            endpoint.inbox.secret = secret
        self.endpoints[name] = endpoint
        return endpoint

    def change(self, name: str, changes: EndpointChanges) -> Endpoint:
        """Change the knobs given (explicit nulls too: `rate_limit_per_s: null` lifts the
        limit), keep the others; the script left is kept unless a new one is given."""
        current = self.endpoints.get(name)
        if current is None:
            raise KeyError(name)
        given = changes.model_dump(exclude_unset=True)
        script = given.pop("script", None)
        settings = current.settings.model_copy(
            update={k: v for k, v in given.items() if v is not None or k == "rate_limit_per_s"}
        )
        settings.script = (
            [ScriptedAnswer.model_validate(a) for a in script]
            if script is not None
            else list(current.script)
        )
        return self.configure(name, EndpointSettings.model_validate(settings.model_dump()))


def _node_of(payload: dict[str, Any]) -> tuple[Any, Any]:
    """`data.node.id` and `data.node.version` of a message (None when absent)."""
    data = payload.get("data")
    node = data.get("node") if isinstance(data, dict) else None
    if not isinstance(node, dict):
        return None, None
    return node.get("id"), node.get("version")
