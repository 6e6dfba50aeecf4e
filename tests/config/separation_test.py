"""Environments stay apart: a non-production bundle naming what production uses is refused,
with the file and field; production itself and the checked-in bundles are not."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from docflow.config.bundle import BundleError, load_bundle
from docflow.settings import DEFAULT_CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for profile in ("dev", "test", "prod"):
        shutil.copytree(DEFAULT_CONFIG_DIR / profile, tmp_path / profile)
    return tmp_path


def _problems(profile: str, config_dir: Path) -> list[str]:
    with pytest.raises(BundleError) as error:
        load_bundle(profile, config_dir, check_secrets=False)
    return [str(problem) for problem in error.value.problems]


def _set_toml(config_dir: Path, profile: str, key: str, value: str) -> None:
    """Replace `key = ...` (first occurrence) in a bundle's settings.toml."""
    path = config_dir / profile / "settings.toml"
    text, count = re.subn(
        rf"^{re.escape(key)} = .*$",
        f"{key} = {json.dumps(value)}",
        path.read_text(),
        count=1,
        flags=re.M,
    )
    assert count == 1, key
    path.write_text(text)


def _append_toml(config_dir: Path, profile: str, text: str) -> None:
    path = config_dir / profile / "settings.toml"
    path.write_text(text + "\n" + path.read_text())


def _edit(config_dir: Path, profile: str, filename: str, edit: Callable[[Any], None]) -> None:
    path = config_dir / profile / filename
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


@pytest.mark.parametrize("profile", ["dev", "test", "prod"])
def test_the_checked_in_bundles_are_apart(profile: str) -> None:
    assert load_bundle(profile, DEFAULT_CONFIG_DIR, check_secrets=False).profile == profile


def test_production_itself_is_not_refused(config_dir: Path) -> None:
    # prod names all of it; it is compared with nothing.
    assert load_bundle("prod", config_dir, check_secrets=False).profile == "prod"


def test_a_production_endpoint_is_refused(config_dir: Path) -> None:
    _set_toml(config_dir, "test", "base_url", "https://ecm.example.com/otcs/cs.exe/api")

    def point_at_prod(data: dict[str, Any]) -> None:
        data["systems"]["SAP"]["status_endpoint"] = "https://erp.example.com:443/other"
        data["systems"]["SAP"]["allowed_hosts"].append("erp.example.com")

    _edit(config_dir, "test", "source-systems.json", point_at_prod)
    problems = _problems("test", config_dir)
    assert any(
        p.startswith("settings.toml: core_signature.base_url: 'https://ecm.example.com/otcs/")
        and "is production's endpoint (settings.toml: content_server.base_url): a test bundle "
        "must never call or deliver to production"
        in p
        for p in problems
    ), problems
    assert any(
        p.startswith("source-systems.json: systems.SAP.status_endpoint: ") for p in problems
    ), problems


def test_the_same_host_over_another_scheme_is_the_same_endpoint(config_dir: Path) -> None:
    _set_toml(config_dir, "test", "url", "http://notify.example.com/other")
    assert any(
        p.startswith("settings.toml: notifications.url: 'http://notify.example.com/other' is ")
        for p in _problems("test", config_dir)
    )


def test_loopback_endpoints_are_each_machine_s_own(config_dir: Path) -> None:
    _set_toml(config_dir, "prod", "url", "http://127.0.0.1:8103/notifications")
    _append_toml(
        config_dir, "dev", '[notifications]\nurl = "http://127.0.0.1:8103/notifications"\n'
    )
    assert load_bundle("dev", config_dir, check_secrets=False).profile == "dev"


def test_a_broken_production_file_still_protects_its_secrets(config_dir: Path) -> None:
    _edit(config_dir, "prod", "source-systems.json", lambda d: d.update(unknown_field=1))
    _edit(
        config_dir,
        "test",
        "source-systems.json",
        lambda d: d["systems"]["SAP"].update(webhook_secret="env:SAP_WEBHOOK_SECRET"),
    )
    assert any(
        p.startswith("source-systems.json: systems.SAP.webhook_secret: env:SAP_WEBHOOK_SECRET ")
        for p in _problems("test", config_dir)
    )


def test_a_vendor_service_every_environment_shares_is_not_an_endpoint_leak(
    config_dir: Path,
) -> None:
    # Core Signature's front door is shared; a tenant's URL (with a path) is not.
    assert load_bundle("test", config_dir, check_secrets=False)  # base_url is prod's too
    _set_toml(
        config_dir,
        "test",
        "token_url",
        "https://na-1.api.opentext.com/tenants/REPLACE-TENANT-ID/oauth2/token",
    )
    assert [p for p in _problems("test", config_dir) if "token_url" in p]


def test_a_dev_default_is_nobody_s_production_endpoint(config_dir: Path) -> None:
    # prod leaves amplience.auth_url unset; dev writes the simulator's: not a leak either way.
    assert load_bundle("dev", config_dir, check_secrets=False).profile == "dev"


def test_a_production_secret_env_variable_is_refused(config_dir: Path) -> None:
    _set_toml(config_dir, "test", "password", "env:OTCS_PASSWORD")
    assert (
        "settings.toml: content_server.password: env:OTCS_PASSWORD is production's secret "
        "reference: each environment names its own credentials"
    ) in _problems("test", config_dir)


def test_a_production_secret_file_is_refused(config_dir: Path) -> None:
    _set_toml(config_dir, "prod", "event_hash_key", "file:/run/secrets/core_signature_key")

    def same_file(data: dict[str, Any]) -> None:
        data["systems"]["SFDC"]["webhook_secret"] = "file:/run/secrets/core_signature_key"

    _edit(config_dir, "dev", "source-systems.json", same_file)
    assert (
        "source-systems.json: systems.SFDC.webhook_secret: file:/run/secrets/core_signature_key "
        "is production's secret reference (settings.toml: core_signature.event_hash_key): each "
        "environment names its own credentials"
    ) in _problems("dev", config_dir)


def test_an_optional_secret_is_a_secret_too(config_dir: Path) -> None:
    # ecm-events.json `secret` is `SecretRef | None`.
    _edit(
        config_dir,
        "test",
        "ecm-events.json",
        lambda d: d.update(secret="env:ECM_SECRET_ECM_EVENTS"),
    )
    assert any(
        p.startswith("ecm-events.json: secret: env:ECM_SECRET_ECM_EVENTS is production's")
        for p in _problems("test", config_dir)
    )


def test_production_s_task_queue_is_refused(config_dir: Path) -> None:
    _set_toml(config_dir, "test", "task_queue", "docflow-signing")
    assert (
        "settings.toml: temporal.task_queue: 'docflow-signing' is production's Temporal task "
        "queue: each environment has its own"
    ) in _problems("test", config_dir)


def test_a_strict_bundle_cannot_hide_a_shared_task_queue_by_leaving_it_out(
    config_dir: Path,
) -> None:
    path = config_dir / "test" / "settings.toml"
    path.write_text(path.read_text().replace('task_queue = "docflow-signing-test"\n', ""))
    assert any("temporal.task_queue" in p for p in _problems("test", config_dir))


def test_production_s_temporal_env_profile_is_refused(config_dir: Path) -> None:
    for profile, name in (("prod", "prod-cloud"), ("test", "prod-cloud")):
        path = config_dir / profile / "settings.toml"
        path.write_text(
            path.read_text().replace("[temporal]\n", f'[temporal]\nenv_profile = "{name}"\n')
        )
    assert (
        "settings.toml: temporal.env_profile: 'prod-cloud' is production's Temporal environment "
        "profile (its namespace): each environment has its own"
    ) in _problems("test", config_dir)


def test_production_s_document_bucket_and_root_are_refused(config_dir: Path) -> None:
    _set_toml(config_dir, "test", "s3_bucket", "docflow-documents")
    assert (
        "settings.toml: documents.s3_bucket: 'docflow-documents' is production's document store "
        "bucket: each environment has its own"
    ) in _problems("test", config_dir)

    path = config_dir / "prod" / "settings.toml"
    path.write_text(path.read_text().replace('kind = "s3"\n', 'kind = "s3"\nroot = "/srv/docs"\n'))
    _append_toml(config_dir, "dev", '[documents]\nroot = "/srv/docs"\n')
    assert (
        "settings.toml: documents.root: '/srv/docs' is production's document store root: each "
        "environment has its own"
    ) in _problems("dev", config_dir)


def test_production_s_records_database_is_refused(config_dir: Path) -> None:
    path = config_dir / "test" / "settings.toml"
    path.write_text(
        path.read_text().replace(
            "postgresql+psycopg://docflow@postgres.test.internal:5432/docflow_records",
            "postgresql+psycopg://reader@POSTGRES.internal/other_db",
        )
    )
    problems = _problems("test", config_dir)
    assert (
        "settings.toml: records.url: names production's records database server "
        "'postgres.internal:5432': each environment has its own read model"
    ) in problems
    assert len([p for p in problems if "records.url" in p]) == 1  # not also as an endpoint


def test_without_a_production_bundle_nothing_is_compared(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_CONFIG_DIR / "test", tmp_path / "test")
    _set_toml(tmp_path, "test", "task_queue", "docflow-signing")
    assert load_bundle("test", tmp_path, check_secrets=False).profile == "test"
