"""Configuration bundles: every profile validates, problems name file and field, versions follow
content, and secrets are checked without ever being shown."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from docflow.config.bundle import CONCERNS, BundleError, load_bundle
from docflow.config.routing import RoutingRules
from docflow.config.source_systems import SourceSystems
from docflow.settings import DEFAULT_CONFIG_DIR

Edit = Callable[[dict[str, Any]], None]


def _copy(tmp_path: Path, profile: str = "dev") -> Path:
    """A copy of a checked-in bundle, as `<tmp>/config/<profile>`; returns the config dir."""
    shutil.copytree(DEFAULT_CONFIG_DIR / profile, tmp_path / "config" / profile)
    return tmp_path / "config"


def _edit(config_dir: Path, profile: str, filename: str, edit: Edit) -> None:
    path = config_dir / profile / filename
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


def _problems(profile: str, config_dir: Path, *, check_secrets: bool = False) -> list[str]:
    with pytest.raises(BundleError) as error:
        load_bundle(profile, config_dir, check_secrets=check_secrets)
    return [str(problem) for problem in error.value.problems]


def test_the_dev_bundle_validates_with_its_secrets() -> None:
    bundle = load_bundle("dev", DEFAULT_CONFIG_DIR)
    assert set(bundle.concerns) == {concern.filename for concern in CONCERNS}
    assert set(bundle.file_versions) == {"settings.toml", *bundle.concerns}
    assert bundle.get(SourceSystems).systems["SFDC"].allowed_hosts
    assert bundle.get(RoutingRules).version == "2026-11-01.1"


@pytest.mark.parametrize(
    ("profile", "variable"), [("test", "TEST_SFDC_WEBHOOK_SECRET"), ("prod", "SFDC_WEBHOOK_SECRET")]
)
def test_strict_bundles_validate_and_need_their_secrets(
    profile: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = load_bundle(profile, DEFAULT_CONFIG_DIR, check_secrets=False)
    refs = [ref for _, _, ref in bundle.secret_references()]
    assert refs and all(ref.startswith(("env:", "file:")) for ref in refs)
    monkeypatch.delenv(variable, raising=False)
    problems = _problems(profile, DEFAULT_CONFIG_DIR, check_secrets=True)
    assert (
        "source-systems.json: systems.SFDC.webhook_secret: secret does not resolve: "
        f"environment variable {variable} is not set"
    ) in problems


def test_secret_checks_never_show_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = _copy(tmp_path, "prod")
    # Every env: reference the production bundle names (however many concerns it has).
    for _file, _path, ref in load_bundle(
        "prod", config_dir, check_secrets=False
    ).secret_references():
        if ref.startswith("env:"):
            monkeypatch.setenv(ref.removeprefix("env:"), "s3cr3t-settings")
    assert load_bundle("prod", config_dir).profile == "prod"  # every reference resolves

    def literal(data: dict[str, Any]) -> None:
        data["systems"]["SAP"]["webhook_secret"] = "value:whsec_bGVha2Vk"

    _edit(config_dir, "prod", "source-systems.json", literal)
    problems = _problems("prod", config_dir, check_secrets=True)
    assert problems == [
        "source-systems.json: systems.SAP.webhook_secret: literal value: secrets are refused "
        "here; use env: or file:"
    ]
    assert not any("s3cr3t" in p or "bGVha2Vk" in p for p in problems)


def test_problems_name_the_file_and_the_field(tmp_path: Path) -> None:
    config_dir = _copy(tmp_path)

    def break_routing(data: dict[str, Any]) -> None:
        data["rules"][1]["workspace_type_id"] = "seven"
        data["rules"][2]["sender"] = "typo@example.com"  # unknown fields are errors

    _edit(config_dir, "dev", "signing-routing.json", break_routing)
    assert _problems("dev", config_dir) == [
        "signing-routing.json: rules[1].workspace_type_id: Input should be a valid integer, "
        "unable to parse string as an integer",
        "signing-routing.json: rules[2].sender: Extra inputs are not permitted",
    ]


def test_routing_rules_may_only_name_registered_source_systems(tmp_path: Path) -> None:
    config_dir = _copy(tmp_path)
    _edit(
        config_dir,
        "dev",
        "source-systems.json",
        lambda data: data["systems"].pop("WORKDAY"),
    )
    assert _problems("dev", config_dir) == [
        "signing-routing.json: rules[2].source_systems[0]: source system 'WORKDAY' is not "
        "registered in source-systems.json"
    ]


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("file:///etc/passwd", "must use http or https, not 'file'"),
        ("http://evil.example.com/x", "host 'evil.example.com' is not in allowed_hosts"),
    ],
)
def test_registry_endpoints_must_be_http_on_an_allowed_host(
    tmp_path: Path, endpoint: str, message: str
) -> None:
    config_dir = _copy(tmp_path)

    def point(data: dict[str, Any]) -> None:
        data["systems"]["SAP"]["status_endpoint"] = endpoint

    _edit(config_dir, "dev", "source-systems.json", point)
    [problem] = _problems("dev", config_dir)
    assert problem.startswith("source-systems.json: systems.SAP: ") and message in problem


def test_a_file_must_be_written_for_its_environment(tmp_path: Path) -> None:
    config_dir = _copy(tmp_path)
    _edit(config_dir, "dev", "signing-routing.json", lambda data: data.update(environment="prod"))
    assert _problems("dev", config_dir) == [
        "signing-routing.json: environment: is 'prod' but the bundle is 'dev'"
    ]


def test_missing_and_unparsable_files_are_reported(tmp_path: Path) -> None:
    config_dir = _copy(tmp_path)
    (config_dir / "dev" / "source-systems.json").unlink()
    (config_dir / "dev" / "signing-routing.json").write_text("{not json")
    problems = _problems("dev", config_dir)
    assert problems[0].startswith("signing-routing.json: is not valid: Expecting property name")
    assert problems[1] == "source-systems.json: missing"
    assert _problems("test", config_dir) == [
        f"{config_dir / 'test'}: no such directory (see DOCFLOW_CONFIG_DIR)"
    ]


def test_the_version_follows_content_not_formatting(tmp_path: Path) -> None:
    config_dir = _copy(tmp_path)
    before = load_bundle("dev", config_dir)
    _edit(config_dir, "dev", "signing-routing.json", lambda data: None)  # re-indented only
    assert load_bundle("dev", config_dir).version == before.version

    _edit(config_dir, "dev", "signing-routing.json", lambda data: data.update(version="x.2"))
    after = load_bundle("dev", config_dir)
    assert after.version != before.version
    assert (
        after.file_versions["signing-routing.json"] != before.file_versions["signing-routing.json"]
    )
    assert after.file_versions["source-systems.json"] == before.file_versions["source-systems.json"]


def test_unknown_settings_are_reported_not_ignored(tmp_path: Path) -> None:
    config_dir = _copy(tmp_path, "prod")
    path = config_dir / "prod" / "settings.toml"
    text = path.read_text().replace("[content_server]", "[content_server]\nbase_ulr = 'x'")
    path.write_text(
        text + '\n[[api.api_keys]]\nname = "x"\nkey = "env:X"\nsubject = "s"\n'
        'scopes = []\nscope = "typo"\n[notifcations]\nurl = "x"\n'
    )
    assert _problems("prod", config_dir) == [
        "settings.toml: content_server.base_ulr: unknown setting",
        "settings.toml: api.api_keys[4].scope: unknown setting",
        "settings.toml: notifcations: unknown setting",
    ]


def test_the_suites_own_bundle_validates() -> None:
    # tests/conftest.py selects it through DOCFLOW_PROFILE and DOCFLOW_CONFIG_DIR.
    bundle = load_bundle()
    assert bundle.profile == "local" and bundle.directory.parts[-3:] == ("tests", "config", "local")
