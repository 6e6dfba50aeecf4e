"""`docflow config rollout` edits a bundle's routing rollout; `docflow config check-live`
reports every check and exits 1 when systems do not answer (the checks themselves are tested
against the simulators in tests/activities/environment/)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from docflow.config.bundle import load_bundle
from docflow.config.routing import RoutingRules
from docflow.settings import DEFAULT_CONFIG_DIR
from starter.cli import app
from tests.api.conftest import closed_port

PILOT = "2026-12.pilot"


def bundle_with_rollout(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_CONFIG_DIR / "dev", tmp_path / "dev")
    path = tmp_path / "dev" / "signing-routing.json"
    routing = json.loads(path.read_text())
    pilot = json.loads(json.dumps(routing["rules"]))
    pilot[0]["signature_template"] = "nda-2027"
    routing["rollout"] = {"version": PILOT, "source_systems": ["SFDC"], "rules": pilot}
    path.write_text(json.dumps(routing, indent=2))
    return tmp_path / "dev"


def rules(bundle: Path) -> RoutingRules:
    return RoutingRules.model_validate_json((bundle / "signing-routing.json").read_text())


def test_a_rollout_is_shown_finished_or_dropped(tmp_path: Path) -> None:
    runner = CliRunner()
    finished = bundle_with_rollout(tmp_path / "a")
    status = runner.invoke(app, ["config", "rollout", "status", "--dir", str(finished)])
    assert status.exit_code == 0 and f"rollout {PILOT} for SFDC" in status.output

    done = runner.invoke(app, ["config", "rollout", "finish", "--dir", str(finished)])
    assert done.exit_code == 0, done.output
    promoted = rules(finished)
    assert promoted.rollout is None and promoted.version == PILOT
    assert promoted.rules[0].signature_template == "nda-2027"
    load_bundle("dev", finished.parent, check_secrets=False)  # still a valid bundle

    dropped = bundle_with_rollout(tmp_path / "b")
    before = rules(dropped)
    assert runner.invoke(app, ["config", "rollout", "drop", "--dir", str(dropped)]).exit_code == 0
    after = rules(dropped)
    assert after.rollout is None and (after.version, after.rules) == (before.version, before.rules)

    again = runner.invoke(app, ["config", "rollout", "drop", "--dir", str(dropped)])
    assert again.exit_code == 1 and "has no rollout" in again.output
    wrong = runner.invoke(app, ["config", "rollout", "promote", "--dir", str(dropped)])
    assert wrong.exit_code == 2 and "status, finish or drop" in wrong.output


def test_check_live_lists_what_did_not_answer_and_exits_1(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_CONFIG_DIR / "dev", tmp_path / "dev")
    settings = tmp_path / "dev" / "settings.toml"
    port = closed_port()  # every simulator endpoint of the dev bundle moved to a closed port
    settings.write_text(re.sub(r"127\.0\.0\.1:81\d\d", f"127.0.0.1:{port}", settings.read_text()))
    result = CliRunner().invoke(
        app,
        [
            "config",
            "check-live",
            "--profile",
            "dev",
            "--config-dir",
            str(tmp_path),
            "--timeout",
            "2",
        ],
        env={"DOCFLOW_PROFILE": "dev", "DOCFLOW_CONFIG_DIR": str(tmp_path)},
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "signing-routing.json: rules[0].signature_template" in result.output
    summary = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"dev: (\d+) checked \(.*core_signature.*\), \1 failed", summary), summary
