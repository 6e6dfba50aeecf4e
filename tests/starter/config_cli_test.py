"""`docflow config validate|show`: clear messages, exit codes, secrets only as references."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docflow.config.bundle import CONCERNS
from docflow.settings import DEFAULT_CONFIG_DIR
from starter.config_cli import app

runner = CliRunner()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for profile in ("dev", "prod"):
        shutil.copytree(DEFAULT_CONFIG_DIR / profile, tmp_path / profile)
    return tmp_path


def test_validate_a_good_bundle(config_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--profile", "dev", "--config-dir", str(config_dir)])
    assert result.exit_code == 0, result.output
    files = len(CONCERNS) + 1  # settings.toml and one file per concern
    assert f"{config_dir / 'dev'}: valid ({files} files), version " in result.output


def test_validate_lists_every_problem_with_file_and_field(config_dir: Path) -> None:
    path = config_dir / "dev" / "source-systems.json"
    registry = json.loads(path.read_text())
    del registry["systems"]["WORKDAY"]
    path.write_text(json.dumps(registry))
    (config_dir / "dev" / "settings.toml").write_text('[api]\nport = "eighty"\n')

    result = runner.invoke(app, ["validate", "-p", "dev", "--config-dir", str(config_dir)])
    assert result.exit_code == 1
    assert "2 problem(s)" in result.output
    assert "settings.toml: api.port: Input should be a valid integer" in result.output
    assert (
        "signing-routing.json: rules[2].source_systems[0]: source system 'WORKDAY' is not "
        "registered" in result.output
    )


def test_validate_resolves_secrets_unless_skipped(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTCS_PASSWORD", raising=False)
    args = ["validate", "--profile", "prod", "--config-dir", str(config_dir)]
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1
    assert "content_server.password: secret does not resolve: environment variable" in (
        failed.output
    )
    skipped = runner.invoke(app, [*args, "--skip-secrets"])
    assert skipped.exit_code == 0, skipped.output
    assert "secrets not resolved" in skipped.output


def test_show_prints_versions_and_secret_references_only(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCFLOW_CONFIG_DIR", str(config_dir))
    result = runner.invoke(app, ["show", "--profile", "dev"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "profile    dev"
    assert lines[2].startswith("version    ") and len(lines[2].split()[1]) == 16
    assert any(
        line.startswith("  signing-routing.json") and "(version label 2026-11-01.1)" in line
        for line in lines
    )
    assert "  source-systems.json: systems.SFDC.webhook_secret = value:<literal>" in lines
    assert "whsec_" not in result.output and "dev-crm-key" not in result.output


def test_unknown_profile_and_missing_directory(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["show", "--profile", "staging"])
    assert unknown.exit_code == 2
    assert "unknown profile 'staging'" in unknown.output
    missing = runner.invoke(app, ["validate", "-p", "prod", "--config-dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert "no such directory (see DOCFLOW_CONFIG_DIR)" in missing.output
