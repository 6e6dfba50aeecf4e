"""`docflow config diff | export | validate --json`: exit codes, output, plain errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docflow.settings import DEFAULT_CONFIG_DIR
from starter.config_cli import app

runner = CliRunner()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for profile in ("dev", "test", "prod"):
        shutil.copytree(DEFAULT_CONFIG_DIR / profile, tmp_path / "config" / profile)
    return tmp_path / "config"


def test_diff_exit_codes(config_dir: Path, tmp_path: Path) -> None:
    base = ["diff", "--config-dir", str(config_dir)]
    same = runner.invoke(app, [*base, "test", str(config_dir / "test")])
    assert same.exit_code == 0, same.output
    assert same.output.endswith("no differences (11 files)\n")

    different = runner.invoke(app, [*base, "dev", "test"])
    assert different.exit_code == 1, different.output
    assert different.output.startswith("--- dev\n+++ test\n")
    assert "value:dev-" not in different.output

    hidden = runner.invoke(app, [*base, "test", "prod", "--hide-per-environment"])
    assert hidden.exit_code == 1, hidden.output
    assert "per-environment difference(s) hidden)" in hidden.output
    assert "env:" not in hidden.output and "example.com/" not in hidden.output

    missing = runner.invoke(app, [*base, "dev", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "error: " in missing.output and "not a profile" in missing.output
    assert "Traceback" not in missing.output

    not_archive = tmp_path / "x.json"
    not_archive.write_text("[]")
    bad = runner.invoke(app, [*base, str(not_archive), "dev"])
    assert bad.exit_code == 2 and "not a bundle archive" in bad.output


def test_diff_json_and_environment(config_dir: Path) -> None:
    routing = config_dir / "test" / "signing-routing.json"
    only, copy = config_dir / "only", config_dir / "copy"
    only.mkdir()
    copy.mkdir()
    shutil.copy(routing, only / "signing-routing.json")
    data = json.loads(routing.read_text())
    data["environment"] = "prod"  # the copy differs in its environment only
    (copy / "signing-routing.json").write_text(json.dumps(data))

    args = ["diff", str(only), str(copy), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["same"] is True
    included = runner.invoke(app, [*args, "--include-environment"])
    assert included.exit_code == 1
    body = json.loads(included.output)
    assert body["files"][0]["changes"] == [
        {"path": "environment", "kind": "changed", "left": '"test"', "right": '"prod"'}
    ]


def test_export_then_diff_the_archive(config_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prod.json"
    result = runner.invoke(
        app, ["export", "-p", "prod", "--config-dir", str(config_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    archive = json.loads(out.read_text())
    assert archive["profile"] == "prod" and len(archive["version"]) == 16
    assert set(archive) >= {"file_versions", "exported_at", "files", "secret_references"}
    compared = runner.invoke(app, ["diff", str(out), "prod", "--config-dir", str(config_dir)])
    assert compared.exit_code == 0, compared.output
    assert compared.output.startswith(f"--- {out} (prod {archive['version']})\n")

    stdout = runner.invoke(app, ["export", "-p", "test", "--config-dir", str(config_dir)])
    assert stdout.exit_code == 0
    assert json.loads(stdout.output)["profile"] == "test"


def test_export_refuses_literals_and_invalid_bundles(config_dir: Path) -> None:
    base = ["export", "--config-dir", str(config_dir), "-p"]
    refused = runner.invoke(app, [*base, "dev"])
    assert refused.exit_code == 1
    assert refused.output.startswith("error: the bundle holds ")
    assert "--allow-literals" in refused.output and "dev-core" not in refused.output
    allowed = runner.invoke(app, [*base, "dev", "--allow-literals", "--skip-secrets"])
    assert allowed.exit_code == 0
    (config_dir / "prod" / "records.json").write_text("{")
    invalid = runner.invoke(app, [*base, "prod"])
    assert invalid.exit_code == 1 and "records.json: is not valid" in invalid.output
    unknown = runner.invoke(app, [*base, "staging"])
    assert unknown.exit_code == 2 and unknown.output.startswith("error: unknown profile")


def test_validate_json_lists_problems_with_file_and_field(config_dir: Path) -> None:
    base = ["validate", "--config-dir", str(config_dir), "--skip-secrets", "--json"]
    ok = runner.invoke(app, [*base, "-p", "test"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["valid"] is True
    settings = config_dir / "test" / "settings.toml"
    settings.write_text(settings.read_text().replace("docflow-signing-test", "docflow-signing"))
    bad = runner.invoke(app, [*base, "-p", "test"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["valid"] is False
    assert {
        "file": "settings.toml",
        "path": "temporal.task_queue",
        "message": "'docflow-signing' is production's Temporal task queue: each environment "
        "has its own",
    } in report["problems"]
