"""docflow settings: one pydantic-settings model, layered per environment profile.

The profile (`DOCFLOW_PROFILE`: dev | local | test | prod) and the configuration directory
(`DOCFLOW_CONFIG_DIR`, default: the checkout's `config/`) are decided once, by
`config_location()`; the profile's bundle is `<config dir>/<profile>/`. Order of precedence
(highest first): explicit overrides, `DOCFLOW_*` environment variables (nested with `__`,
e.g. `DOCFLOW_CORE_SIGNATURE__BASE_URL`), the bundle's `settings.toml`, the defaults below
(which match the embedded dev stack). The bundle's other files (routing rules, source
systems...) are read by activities through `docflow.config.bundle`, not here. Temporal's own
connection (address, namespace, TLS, API key) comes from the SDK's environment configuration
(`TEMPORAL_*` variables and `temporal.toml` profiles), not from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from docflow.models.signing import SigningPolicy
from docflow.models.workspaces import CaseRetryPolicy
from docflow.secrets import SECRET, SecretRef, resolve_secret

Profile = Literal["dev", "local", "test", "prod"]
PROFILES: tuple[str, ...] = get_args(Profile)
# dev is the embedded stack, local a developer's or the test suite's own bundle: only these
# accept literal `value:` secrets. test is a real pre-production environment, as strict as prod.
LENIENT_PROFILES = frozenset({"dev", "local"})
# Source checkout's bundles; an installed wheel points DOCFLOW_CONFIG_DIR at its own.
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
SETTINGS_FILE = "settings.toml"


def config_location(
    profile: str | None = None, config_dir: str | Path | None = None
) -> tuple[Profile, Path]:
    """The profile and configuration directory: explicit values, else `DOCFLOW_PROFILE` and
    `DOCFLOW_CONFIG_DIR`, else dev and the checkout's `config/`. The one place that reads them."""
    chosen = profile or os.environ.get("DOCFLOW_PROFILE") or "dev"
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; one of {', '.join(PROFILES)}")
    directory = config_dir or os.environ.get("DOCFLOW_CONFIG_DIR") or DEFAULT_CONFIG_DIR
    return chosen, Path(directory)  # type: ignore[return-value]


class TemporalSettings(BaseModel):
    env_profile: str | None = Field(
        default=None, description="Profile in temporal.toml (SDK environment configuration)."
    )
    task_queue: str = "docflow-signing"
    deployment_name: str = Field(
        default="docflow", description="Worker Deployment the worker joins (Worker Versioning)."
    )
    build_id: str | None = Field(
        default=None,
        description="This build's version in the deployment (e.g. the git sha); unset = "
        "unversioned worker (dev stack, tests).",
    )
    ui_url: str = Field(default="http://127.0.0.1:8233", description="Web UI base, for links.")
    max_cached_workflows: int = Field(
        default=1000,
        ge=0,
        description="Workflows a worker keeps in memory (about 0.3 MB each). A business "
        "object's workflow not in the cache is rebuilt from its history on its next event "
        "(about 27 ms of CPU here): size it to the objects that change within minutes.",
    )


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
    receiver_deadline_s: float = Field(
        default=1.0,
        gt=0,
        description="The callback receiver answers within this: past it (Temporal slow or "
        "down) it answers 500, which Core Signature retries.",
    )
    timeout_s: float = 30.0


# A secret reference that may be left unset (a system not every environment uses).
OptionalSecretRef = Annotated[SecretRef | None, SECRET]


class AmplienceSettings(BaseModel):
    """Amplience Dynamic Content: the real service by default; the hub and credentials are
    per environment (unset until an environment uses Amplience)."""

    auth_url: str = "https://auth.amplience.net/oauth/token"
    api_url: str = Field(
        default="https://api.amplience.net/v2/content", description="Content Management API."
    )
    delivery_url: str | None = Field(
        default=None,
        description="Content Delivery 2 base; None: https://{hub_name}.cdn.content.amplience.net.",
    )
    hub_id: str = ""
    hub_name: str = ""
    client_id: str = ""
    client_secret: OptionalSecretRef = None
    webhook_secret: OptionalSecretRef = Field(
        default=None, description="Verifies X-Amplience-Webhook-Signature."
    )
    timeout_s: float = 30.0
    publish_poll_interval_s: float = Field(default=2.0, gt=0)
    publish_timeout_s: float = Field(default=300.0, gt=0)
    publish_limit_per_minute: int = Field(
        default=100, ge=1, description="Publishes per worker per minute (Amplience: 100 per hub)."
    )

    @property
    def delivery_base(self) -> str:
        if self.delivery_url:
            return self.delivery_url
        return f"https://{self.hub_name}.cdn.content.amplience.net"


class ContentServerSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8102/otcs/cs.exe/api"
    username: str = "docflow"
    password: SecretRef = "value:dev-otcs-password"
    timeout_s: float = 60.0
    ui_url: str | None = Field(
        default=None,
        description="Where users open a node, with '{id}'; None: base_url with its trailing "
        "'/api' replaced by '/app/nodes/{id}'.",
    )


class SourceSystemsSettings(BaseModel):
    """Runtime overrides of the bundle's source-system registry (`source-systems.json`)."""

    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="System id -> status endpoint, replacing the registry's (the dev stack's "
        "free ports); must stay within that system's allowed hosts.",
    )
    processes_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="System id -> business-process API, replacing the registry's "
        "`processes_endpoint` (the dev stack's free ports); within its allowed hosts.",
    )


class CaseSourcesSettings(BaseModel):
    """Runtime overrides of the bundle's case-source registry (`case-sources.json`)."""

    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Source id (e.g. 'erp_history') -> base URL, replacing the registry's "
        "endpoint (the dev stack's free ports); must stay within that source's allowed hosts.",
    )


class DistributionSettings(BaseModel):
    """Runtime overrides of the bundle's distribution targets (`content-distribution.json`)."""

    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Target id -> endpoint, replacing the bundle's (the dev stack's free "
        "ports); must stay within that target's allowed hosts.",
    )


class EcmEventsSettings(BaseModel):
    """Runtime overrides of the bundle's ECM event subscriptions (`ecm-events.json`)."""

    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Subscription -> endpoint, replacing the bundle's (the dev stack's free "
        "ports); must stay within that subscription's allowed hosts.",
    )
    poll_interval_s: float | None = Field(
        default=None, gt=0, description="Overrides the audit poller's interval (tests, demo)."
    )


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


class RecordsSettings(BaseModel):
    """The read model's database: SQLite in the data directory by default, PostgreSQL in
    production (`postgresql+psycopg://user@host/db`, the password as a reference)."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; None: sqlite:///<data_dir>/records.db (embedded).",
    )
    password: OptionalSecretRef = Field(
        default=None, description="Database password, merged into the URL at connect time."
    )
    pool_size: int = Field(default=5, ge=1, le=100)
    link_key: SecretRef = Field(
        default="value:dev-partner-link-key-change-me-0123456789",
        description="Signs partner download links (HMAC-SHA256).",
    )


class PromotionSettings(BaseModel):
    """Who releases configuration into this environment, and how long they have."""

    approvers: list[str] = Field(
        default_factory=list,
        description="Release approvers (principal ids); the proposer of a promotion never "
        "decides on it. Empty: this environment takes no promotions.",
    )
    quorum: Literal["any", "all"] = "any"
    deadline: timedelta = Field(default=timedelta(days=3), gt=timedelta(0))
    reminder_before: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    escalation_approver: str | None = None
    escalation_window: timedelta = Field(default=timedelta(days=1), gt=timedelta(0))


class ApiKeyConfig(BaseModel):
    """One calling application or person: its key (a reference), identity and scopes."""

    name: str
    key: SecretRef
    subject: str = Field(description="The principal decisions are recorded for.")
    scopes: list[str]
    source_systems: list[str] = Field(
        default_factory=list,
        description="Source systems whose processes this caller may start, see and act on "
        "(an application: its own system; support: '*'). People without any see only the "
        "processes they are assigned to (approver, escalation approver).",
    )


class OidcSettings(BaseModel):
    issuer: str
    audience: str
    jwks_url: str
    subject_claim: str = "email"
    scopes_claim: str = "scope"
    source_systems_claim: str = Field(
        default="docflow_source_systems",
        description="Claim listing the source systems the caller acts for ('*' = all).",
    )


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8100
    public_url: str = "http://127.0.0.1:8100"
    # No default keys: the dev bundle (config/dev/settings.toml) lists the demo keys.
    api_keys: list[ApiKeyConfig] = Field(default_factory=list)
    oidc: OidcSettings | None = None
    max_upload_bytes: int = 25 * 1024 * 1024
    approvers: list[str] = Field(
        default_factory=list,
        description="People who may be named as approvers besides the holders of API keys "
        "with approvals:decide (e.g. OIDC users); compared case-insensitively.",
    )

    def approver_directory(self) -> dict[str, str]:
        """Known people who may decide: case-folded identity → why they are known."""
        known = {a.casefold(): "api.approvers" for a in self.approvers}
        for key in self.api_keys:
            if "approvals:decide" in key.scopes and not key.subject.startswith("app:"):
                known[key.subject.casefold()] = f"API key {key.name}"
        return known

    def applications(self) -> set[str]:
        """Case-folded subjects that are applications, never people."""
        return {
            key.subject.casefold()
            for key in self.api_keys
            if key.subject.startswith("app:") or "approvals:decide" not in key.scopes
        } - set(self.approver_directory())

    action_link_key: SecretRef = Field(
        default="value:dev-action-link-key",
        description="HMAC key of the approvers' action links (the notification activity mints "
        "them, the API's action page verifies them); the worker and the API need the same one.",
    )


class Settings(BaseSettings):
    """All of docflow's configuration for one environment."""

    model_config = SettingsConfigDict(
        env_prefix="DOCFLOW_", env_nested_delimiter="__", extra="ignore"
    )

    profile: Profile = "dev"
    config_dir: Path = Field(
        default=DEFAULT_CONFIG_DIR, description="Holds one bundle directory per profile."
    )
    data_dir: Path = Path(".docflow")
    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    core_signature: CoreSignatureSettings = Field(default_factory=CoreSignatureSettings)
    content_server: ContentServerSettings = Field(default_factory=ContentServerSettings)
    amplience: AmplienceSettings = Field(default_factory=AmplienceSettings)
    source_systems: SourceSystemsSettings = Field(default_factory=SourceSystemsSettings)
    case_sources: CaseSourcesSettings = Field(default_factory=CaseSourcesSettings)
    distribution: DistributionSettings = Field(default_factory=DistributionSettings)
    ecm_events: EcmEventsSettings = Field(default_factory=EcmEventsSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    documents: DocumentStoreSettings = Field(default_factory=DocumentStoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    records: RecordsSettings = Field(default_factory=RecordsSettings)
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    signing_policy: SigningPolicy = Field(default_factory=SigningPolicy)
    case_policy: CaseRetryPolicy = Field(
        default_factory=CaseRetryPolicy,
        description="How cases with gaps are retried, and when a source's calls give up.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs = getattr(init_settings, "init_kwargs", {})
        profile, config_dir = config_location(
            init_kwargs.get("profile"), init_kwargs.get("config_dir")
        )
        # Highest precedence, so the profile and directory the TOML came from are the ones the
        # settings report (an environment variable or the TOML cannot contradict them).
        location = InitSettingsSource(
            settings_cls, init_kwargs={"profile": profile, "config_dir": config_dir}
        )
        sources: list[PydanticBaseSettingsSource] = [location, init_settings, env_settings]
        toml_file = config_dir / profile / SETTINGS_FILE
        if toml_file.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def strict(self) -> bool:
        """test and prod: secrets only as env:/file: references."""
        return self.profile not in LENIENT_PROFILES

    @property
    def bundle_dir(self) -> Path:
        """This environment's configuration bundle."""
        return self.config_dir / self.profile

    @model_validator(mode="after")
    def _strict_profiles_refuse_literal_secrets(self) -> Settings:
        if self.strict:
            literal = [path for path, ref in secret_references(self) if ref.startswith("value:")]
            if literal:
                raise ValueError(
                    f"the {self.profile} profile only accepts env: or file: secret references; "
                    f"literal value: at {', '.join(literal)}"
                )
        return self

    def secret(self, ref: str) -> str:
        """Resolve a secret reference (literal values are refused in test and prod)."""
        return resolve_secret(ref, allow_literal=not self.strict)

    def with_overrides(self, **update: Any) -> Settings:
        """A copy with nested overrides, e.g. with_overrides(api={'port': 9000})."""
        data = self.model_dump()
        _deep_merge(data, update)
        return Settings.model_validate(data)


def secret_references(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every SecretRef field in a model tree, as (field path, reference); never the secret."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if _is_secret(field.metadata, field.annotation) and isinstance(value, str):
            yield path, value
        else:
            yield from _secret_references_in(value, path)


def _is_secret(metadata: list[Any], annotation: Any) -> bool:
    """A SecretRef field, also an optional one (`SecretRef | None` keeps the marker inside)."""
    if SECRET in metadata:
        return True
    return any(SECRET in getattr(arg, "__metadata__", ()) for arg in get_args(annotation))


def _secret_references_in(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, BaseModel):
        yield from secret_references(value, f"{path}.")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _secret_references_in(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_references_in(item, f"{path}.{key}")


def _deep_merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value
