"""docflow settings: one pydantic-settings model, layered per environment profile.

Order of precedence (highest first): explicit overrides, `DOCFLOW_*` environment variables
(nested with `__`, e.g. `DOCFLOW_CORE_SIGNATURE__BASE_URL`), `config/<profile>.toml`,
the defaults below (which match the embedded dev stack). Temporal's own connection
(address, namespace, TLS, API key) comes from the SDK's environment configuration
(`TEMPORAL_*` variables and `temporal.toml` profiles), not from here.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from docflow.models.signing import SigningPolicy
from docflow.secrets import SecretRef, resolve_secret

Profile = Literal["dev", "test", "prod"]
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class TemporalSettings(BaseModel):
    env_profile: str | None = Field(
        default=None, description="Profile in temporal.toml (SDK environment configuration)."
    )
    task_queue: str = "docflow-signing"
    ui_url: str = Field(default="http://127.0.0.1:8233", description="Web UI base, for links.")


class CoreSignatureSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8101"
    token_url: str = "http://127.0.0.1:8101/tenants/docflow/oauth2/token"
    client_id: str = "docflow-dev"
    client_secret: SecretRef = "value:dev-core-signature-secret"
    event_hash_key: SecretRef = "value:dev-event-hash-key"
    events_callback_url: str = Field(
        default="http://127.0.0.1:8100/webhooks/core-signature",
        description="Public URL of docflow's Core Signature receiver.",
    )
    event_max_age: timedelta = Field(
        default=timedelta(minutes=15), description="Older callbacks are refused as stale."
    )
    timeout_s: float = 30.0


class ContentServerSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8102/otcs/cs.exe/api"
    username: str = "docflow"
    password: SecretRef = "value:dev-otcs-password"
    timeout_s: float = 60.0


class CrmSettings(BaseModel):
    callback_url: str = Field(
        default="http://127.0.0.1:8103/webhooks/docflow",
        description="Default status endpoint of the source system.",
    )
    webhook_secret: SecretRef = "value:whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"
    timeout_s: float = 30.0


class NotificationSettings(BaseModel):
    url: str = Field(
        default="http://127.0.0.1:8103/notifications",
        description="Notification service: approver e-mails and the support queue.",
    )
    support_queue: str = "signature-support"
    webhook_secret: SecretRef = "value:whsec_ZGV2LW5vdGlmaWNhdGlvbnMtc2VjcmV0LTEy"
    timeout_s: float = 15.0


class DocumentStoreSettings(BaseModel):
    kind: Literal["local", "s3"] = "local"
    root: Path = Path(".docflow/documents")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = "docflow/"


class ApiKeyConfig(BaseModel):
    """One calling application or person: its key (a reference), identity and scopes."""

    name: str
    key: SecretRef
    subject: str = Field(description="The principal decisions are recorded for.")
    scopes: list[str]


class OidcSettings(BaseModel):
    issuer: str
    audience: str
    jwks_url: str
    subject_claim: str = "email"
    scopes_claim: str = "scope"


DEV_API_KEYS = [
    ApiKeyConfig(
        name="crm",
        key="value:dev-crm-key",
        subject="app:crm",
        scopes=["processes:start", "processes:read", "processes:cancel"],
    ),
    ApiKeyConfig(
        name="ops",
        key="value:dev-ops-key",
        subject="ops@example.com",
        scopes=["processes:read", "processes:correct", "processes:cancel"],
    ),
    *[
        ApiKeyConfig(
            name=person,
            key=f"value:dev-{person}-key",
            subject=f"{person}@example.com",
            scopes=["processes:read", "approvals:decide", "processes:correct"],
        )
        for person in ("alice", "bob", "carol", "dave")
    ],
]


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8100
    public_url: str = "http://127.0.0.1:8100"
    api_keys: list[ApiKeyConfig] = Field(default_factory=lambda: list(DEV_API_KEYS))
    oidc: OidcSettings | None = None
    max_upload_bytes: int = 25 * 1024 * 1024


class RoutingSettings(BaseModel):
    rules_file: Path | None = Field(
        default=None, description="Routing rules; default config/routing/<profile>.json."
    )


class Settings(BaseSettings):
    """All of docflow's configuration for one environment."""

    model_config = SettingsConfigDict(
        env_prefix="DOCFLOW_", env_nested_delimiter="__", extra="ignore"
    )

    profile: Profile = "dev"
    data_dir: Path = Path(".docflow")
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    core_signature: CoreSignatureSettings = Field(default_factory=CoreSignatureSettings)
    content_server: ContentServerSettings = Field(default_factory=ContentServerSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    documents: DocumentStoreSettings = Field(default_factory=DocumentStoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    signing_policy: SigningPolicy = Field(default_factory=SigningPolicy)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        profile = os.environ.get("DOCFLOW_PROFILE", "dev")
        toml_file = CONFIG_DIR / f"{profile}.toml"
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _prod_refuses_literal_secrets(self) -> Settings:
        if self.profile == "prod":
            refs = [
                self.core_signature.client_secret,
                self.core_signature.event_hash_key,
                self.content_server.password,
                self.crm.webhook_secret,
                self.notifications.webhook_secret,
                *(k.key for k in self.api.api_keys),
            ]
            if any(ref.startswith("value:") for ref in refs):
                raise ValueError("the prod profile only accepts env: or file: secret references")
        return self

    def secret(self, ref: str) -> str:
        """Resolve a secret reference (literal values are refused in prod)."""
        return resolve_secret(ref, allow_literal=self.profile != "prod")

    @cached_property
    def routing_rules_path(self) -> Path:
        return self.routing.rules_file or CONFIG_DIR / "routing" / f"{self.profile}.json"

    def with_overrides(self, **update: Any) -> Settings:
        """A copy with nested overrides, e.g. with_overrides(api={'port': 9000})."""
        data = self.model_dump()
        _deep_merge(data, update)
        return Settings.model_validate(data)


def _deep_merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value
