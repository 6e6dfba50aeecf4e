"""Schema: the source-system registry (`source-systems.json`) — where each CRM/ERP gets its
status reports, signed with which secret, and which hosts it may ever be sent to."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile
from docflow.secrets import SecretRef

ALLOWED_SCHEMES = frozenset({"http", "https"})


class EndpointNotAllowed(ValueError):
    """An endpoint (a registry's, or an override's) is outside its allowed hosts or not http(s)."""


def endpoint_problem(url: str, allowed_hosts: list[str]) -> str | None:
    """Why docflow must not POST to `url` for a system allowed these hosts, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        return f"endpoint {url!r} must use http or https, not {parts.scheme or 'no scheme'!r}"
    host = (parts.hostname or "").lower()
    if not host:
        return f"endpoint {url!r} has no host"
    if host not in {h.lower() for h in allowed_hosts}:
        return f"endpoint host {host!r} is not in allowed_hosts {allowed_hosts}"
    return None


class SourceSystem(BaseModel):
    """One business system that starts processes and receives their status reports."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    status_endpoint: str = Field(description="Where status reports are POSTed (Standard Webhooks).")
    webhook_secret: SecretRef = Field(description="Signs the reports; `whsec_...` secret.")
    event_secret: SecretRef | None = Field(
        default=None,
        description="Verifies the business-object events it sends (Standard Webhooks, "
        "`whsec_...`); None: docflow takes no events from it.",
    )
    allowed_hosts: list[str] = Field(
        min_length=1, description="The only hosts reports may go to (endpoint and overrides)."
    )
    timeout_s: float = Field(default=30.0, gt=0)
    processes_endpoint: str | None = Field(
        default=None,
        description="Its business-process API (`POST {endpoint}`, `GET {endpoint}/{id}`), "
        "where lifecycle triggers start processes (invoice processing, contract activation); "
        "None: docflow starts no processes in it.",
    )
    processes_api_key: SecretRef | None = Field(
        default=None, description="Bearer key of the process API (with `processes_endpoint`)."
    )

    @model_validator(mode="after")
    def _endpoint_is_allowed(self) -> SourceSystem:
        problem = endpoint_problem(self.status_endpoint, self.allowed_hosts)
        if problem:
            raise ValueError(problem)
        if self.processes_endpoint is not None:
            problem = endpoint_problem(self.processes_endpoint, self.allowed_hosts)
            if problem:
                raise ValueError(f"processes_endpoint: {problem}")
        if (self.processes_endpoint is None) != (self.processes_api_key is None):
            raise ValueError("processes_endpoint and processes_api_key go together")
        return self


class SourceSystems(ConcernFile):
    """System id (`SourceRecord.system`, e.g. 'SFDC') -> its registration."""

    systems: dict[str, SourceSystem] = Field(min_length=1)
