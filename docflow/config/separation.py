"""Environments stay apart: a non-production bundle naming something production uses is refused.

Compared with the `prod` bundle beside the candidate (when there is one), what its files say:

* endpoints: every URL-valued field (a key ending in `url` or `endpoint`, or an entry of an
  `endpoints` map) written in prod's settings.toml or concerns; the candidate may not use the
  same host and port (http and https of a host alike; loopback addresses are each machine's
  own and never compared). Multi-tenant vendor services (`SHARED_SERVICE_HOSTS`: Temporal Cloud,
  Core Signature, Amplience) are shared by every environment by design, so only a URL with a
  path there (a tenant's, e.g. the token URL) is compared, in full;
* secrets: the same `env:` variable or `file:` path as one production names;
* Temporal: prod's `temporal.env_profile` (the SDK profile, hence its namespace) and
  `temporal.task_queue`;
* the document store: prod's `documents.s3_bucket` or local `documents.root`;
* the records database: prod's `records.url` (host and port).

Only values written in prod's files count (a code default prod leaves unset, e.g. the dev
stack's 127.0.0.1 endpoints, is nobody's production value). On the candidate's side a
lenient bundle (dev, local) is compared by what it writes, since what it leaves unset is the
embedded dev stack's default; a strict one (test) by what it will run with, defaults
included, so leaving a field out does not hide a shared value.
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from docflow.settings import LENIENT_PROFILES, SETTINGS_FILE, Settings, secret_references

# Vendor services every environment reaches with its own tenant and credentials.
SHARED_SERVICE_HOSTS: tuple[str, ...] = (
    "cloud.temporal.io",
    "sign.core.opentext.com",
    "sign.core.opentext.eu",
    ".api.opentext.com",
    "auth.amplience.net",
    "api.amplience.net",
    ".cdn.content.amplience.net",
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}

# Scalar settings an environment must have to itself: path -> what it is.
_OWN_SETTINGS: dict[str, str] = {
    "temporal.env_profile": "Temporal environment profile (its namespace)",
    "temporal.task_queue": "Temporal task queue",
    "documents.s3_bucket": "document store bucket",
    "documents.root": "document store root",
}
_RECORDS_URL = "records.url"

Problem = tuple[str, str, str]  # (file, field path, message)


def separation_problems(
    profile: str,
    prod_dir: Path,
    settings_data: Mapping[str, Any] | None,
    settings: Settings | None,
    concerns: Mapping[str, BaseModel],
) -> Iterator[Problem]:
    """Every value of a non-production bundle that production's bundle (in `prod_dir`) names.

    `settings_data` is the candidate's settings.toml as written, `settings` the validated
    model (None if invalid), `concerns` filename -> validated concern."""
    production = _Production.read(prod_dir)
    if production is None:
        return
    strict = profile not in LENIENT_PROFILES
    settings_view: Mapping[str, Any] | None = settings_data
    if strict and settings is not None:
        settings_view = settings.model_dump(mode="json", exclude={"profile", "config_dir"})
    files: dict[str, Any] = {name: m.model_dump(mode="json") for name, m in concerns.items()}
    if settings_view is not None:
        files[SETTINGS_FILE] = settings_view

    # Endpoints.
    for filename, data in files.items():
        for path, url in _urls(data):
            if (filename, path) == (SETTINGS_FILE, _RECORDS_URL):
                continue  # below, with its own message
            owner = production.endpoint_owner(url)
            if owner is not None:
                yield (
                    filename,
                    path,
                    f"{_shown(url)!r} is production's endpoint{_where(owner, filename, path)}: "
                    f"a {profile} bundle must never call or deliver to production",
                )
    # Secrets.
    refs: list[tuple[str, str, str]] = []
    if settings is not None:
        refs.extend((SETTINGS_FILE, p, r) for p, r in secret_references(settings))
    for filename, model in concerns.items():
        refs.extend((filename, p, r) for p, r in secret_references(model))
    for filename, path, ref in refs:
        owner = production.secrets.get(ref)
        if owner is not None:
            yield (
                filename,
                path,
                f"{ref} is production's secret reference{_where(owner, filename, path)}: "
                "each environment names its own credentials",
            )
    # Temporal, document store, records database.
    if settings_view is None:
        return
    for path, what in _OWN_SETTINGS.items():
        value = _get(settings_view, path)
        prod_value = _get(production.settings, path)
        if path == "documents.root" and isinstance(value, str) and isinstance(prod_value, str):
            value, prod_value = str(Path(value)), str(Path(prod_value))
        if value is not None and value != "" and value == prod_value:
            yield (
                SETTINGS_FILE,
                path,
                f"{value!r} is production's {what}: each environment has its own",
            )
    records = _get(settings_view, _RECORDS_URL)
    prod_records = _get(production.settings, _RECORDS_URL)
    if (
        isinstance(records, str)
        and isinstance(prod_records, str)
        and _origin(records) is not None
        and _origin(records) == _origin(prod_records)
    ):
        yield (
            SETTINGS_FILE,
            _RECORDS_URL,
            f"names production's records database server {_origin_text(prod_records)!r}: "
            "each environment has its own read model",
        )


class _Production:
    """What production's files write: settings as written, endpoints, secret references."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        endpoints: dict[str, str],
        secrets: dict[str, str],
    ) -> None:
        self.settings = settings
        self.endpoints = endpoints  # url -> "file: path"
        self.secrets = secrets  # reference -> "file: path"

    @classmethod
    def read(cls, prod_dir: Path) -> _Production | None:
        from docflow.config.bundle import CONCERNS  # the registry; bundle imports this module

        settings: dict[str, Any] = {}
        endpoints: dict[str, str] = {}
        secrets: dict[str, str] = {}
        found = False
        try:
            settings = tomllib.loads((prod_dir / SETTINGS_FILE).read_text())
            found = True
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            settings = {}
        for path, url in _urls(settings):
            endpoints.setdefault(url, f"{SETTINGS_FILE}: {path}")
        if found:
            model: Settings | None
            try:
                model = Settings.model_validate(
                    {**settings, "profile": "prod", "config_dir": prod_dir.parent}
                )
            except ValidationError:
                model = None
            named = secret_references(model) if model is not None else _references_in(settings)
            for path, ref in named:
                if not ref.startswith("value:"):  # a code default, never prod's
                    secrets.setdefault(ref, f"{SETTINGS_FILE}: {path}")
        for concern in CONCERNS:
            try:
                data = json.loads((prod_dir / concern.filename).read_text())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            found = True
            for path, url in _urls(data):
                endpoints.setdefault(url, f"{concern.filename}: {path}")
            try:
                named = secret_references(concern.schema.model_validate(data))
            except ValidationError:
                named = _references_in(data)
            for path, ref in named:
                if not ref.startswith("value:"):
                    secrets.setdefault(ref, f"{concern.filename}: {path}")
        return cls(settings, endpoints, secrets) if found else None

    def endpoint_owner(self, url: str) -> str | None:
        """Where production names the service `url` points at, or None."""
        target = _endpoint(url)
        if target is None or _loopback(target[0]):
            return None  # a loopback address is each machine's own
        for prod_url, owner in self.endpoints.items():
            prod = _endpoint(prod_url)
            if prod is None or prod[0] != target[0]:
                continue
            # The same port, or both the scheme's default (http and https of one host alike).
            if prod[1] != target[1] and (prod[2] or target[2]):
                continue
            if not _shared_host(target[0]):
                return owner
            # A vendor's shared service: only the same tenant's URL (one with a path) counts.
            prefix = _tenant_url(prod_url)
            if urlsplit(prod_url).path.strip("/") and (
                _tenant_url(url) == prefix or _tenant_url(url).startswith(prefix + "/")
            ):
                return owner
        return None


def _references_in(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, reference) for every `env:`/`file:` string of a file production's schema
    does not accept (so a broken prod file still protects its secrets)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _references_in(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _references_in(item, f"{path}[{index}]")
    elif isinstance(data, str) and data.startswith(("env:", "file:")):
        yield path, data


def _urls(data: Any, path: str = "", key: str = "", parent: str = "") -> Iterator[tuple[str, str]]:
    """(field path, URL) for every URL-valued field: a key ending in `url` or `endpoint`, or an
    entry of a map whose key ends in `endpoints`."""
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield from _urls(v, f"{path}.{k}" if path else str(k), str(k), key)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _urls(item, f"{path}[{index}]", key, parent)
    elif isinstance(data, str) and "://" in data:
        named = key.lower().endswith(("url", "endpoint")) or parent.lower().endswith("endpoints")
        if named:
            yield path, data


def _endpoint(url: str) -> tuple[str, int | None, bool] | None:
    """(host, port, whether the port is written) of a URL; None if it names no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = parts.scheme.split("+", 1)[0].lower()
    return host.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme), port is not None


def _origin(url: str) -> tuple[str, int | None] | None:
    endpoint = _endpoint(url)
    return None if endpoint is None else endpoint[:2]


def _origin_text(url: str) -> str:
    origin = _origin(url)
    if origin is None:
        return url
    return f"{origin[0]}:{origin[1]}" if origin[1] is not None else origin[0]


def _tenant_url(url: str) -> str:
    return f"{_origin(url)}{urlsplit(url).path.rstrip('/')}"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shared_host(host: str) -> bool:
    return any(
        host.endswith(shared) if shared.startswith(".") else host == shared
        for shared in SHARED_SERVICE_HOSTS
    )


def _shown(url: str) -> str:
    """A URL without any user:password part."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


def _where(owner: str, filename: str, path: str) -> str:
    """Where production names it, when that is not the same file and field."""
    return "" if owner == f"{filename}: {path}" else f" ({owner})"


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
