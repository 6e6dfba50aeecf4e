"""The bundle diff: structural, keyed lists, environment left out, secrets masked, stable text."""

from __future__ import annotations

import json
from typing import Any

from docflow.config.diff import (
    MAX_VALUE_CHARS,
    BundleDiff,
    diff_bundles,
    read_bundle_files,
    render_text,
)
from docflow.settings import DEFAULT_CONFIG_DIR

ROUTING = "signing-routing.json"


def _routing(environment: str, *rules: dict[str, Any]) -> str:
    return json.dumps({"version": "1", "environment": environment, "rules": list(rules)})


def _rule(name: str, template: str = "t1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "signature_template": template, **extra}


def _changes(diff: BundleDiff) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(f.file, c.path, c.kind, c.left, c.right) for f in diff.files for c in f.changes]


def test_the_same_bundle_in_another_format_is_the_same() -> None:
    left = {"settings.toml": '[api]\nport = 8100\nhost = "a"\n', ROUTING: _routing("dev")}
    right = {
        "settings.toml": '[api]\nhost = "a"\nport = 8100\n',
        ROUTING: json.dumps(json.loads(_routing("dev")), indent=4),
    }
    diff = diff_bundles(left, right)
    assert diff.same and diff.change_count == 0
    assert [f.status for f in diff.files] == ["same", "same"]
    assert render_text(diff).endswith("no differences (2 files)\n")


def test_added_removed_and_changed_files() -> None:
    left = {"settings.toml": "data_dir = 'a'\n", ROUTING: _routing("dev")}
    right = {"settings.toml": "data_dir = 'b'\n", "records.json": "{}"}
    diff = diff_bundles(left, right, left_label="dev", right_label="test")
    assert [(f.file, f.status) for f in diff.files] == [
        ("settings.toml", "changed"),
        (ROUTING, "removed"),
        ("records.json", "added"),
    ]
    text = render_text(diff)
    assert '~ settings.toml  data_dir: "a" -> "b"\n' in text
    assert f"- {ROUTING}  (file only in dev)\n" in text
    assert "+ records.json  (file only in test)\n" in text
    assert not diff.same


def test_rules_are_matched_by_name_not_by_position() -> None:
    left = {ROUTING: _routing("dev", _rule("nda", "nda-v1"), _rule("msa"), _rule("sow"))}
    right = {
        ROUTING: _routing(
            "dev", _rule("new", "x"), _rule("nda", "nda-v2"), _rule("msa"), _rule("sow")
        )
    }
    assert _changes(diff_bundles(left, right)) == [
        (ROUTING, "rules[name=nda].signature_template", "changed", '"nda-v1"', '"nda-v2"'),
        (
            ROUTING,
            "rules[name=new]",
            "added",
            None,
            '{"name": "new", "signature_template": "x"}',
        ),
    ]


def test_a_reordered_keyed_list_is_reported_once() -> None:
    left = {ROUTING: _routing("dev", _rule("a"), _rule("b"))}
    right = {ROUTING: _routing("dev", _rule("b"), _rule("a"))}
    assert _changes(diff_bundles(left, right)) == [
        (ROUTING, "rules (order)", "changed", '["a", "b"]', '["b", "a"]')
    ]


def test_lists_without_a_key_compare_by_position_or_whole() -> None:
    left = {ROUTING: json.dumps({"rules": [{"x": 1}], "scopes": ["a", "b"]})}
    right = {ROUTING: json.dumps({"rules": [{"x": 2}, {"x": 3}], "scopes": ["a", "c", "b"]})}
    assert _changes(diff_bundles(left, right)) == [
        (ROUTING, "rules[0].x", "changed", "1", "2"),
        (ROUTING, "rules[1]", "added", None, '{"x": 3}'),
        (ROUTING, "scopes", "changed", '["a", "b"]', '["a", "c", "b"]'),
    ]


def test_the_environment_field_is_left_out_unless_asked() -> None:
    left = {ROUTING: _routing("dev", _rule("nda"))}
    right = {ROUTING: _routing("test", _rule("nda"))}
    assert diff_bundles(left, right).same
    included = diff_bundles(left, right, include_environment=True)
    assert _changes(included) == [(ROUTING, "environment", "changed", '"dev"', '"test"')]


def test_literal_secrets_are_never_shown() -> None:
    left = {
        "settings.toml": '[notifications]\nwebhook_secret = "value:whsec_SECRET1"\n',
        "source-systems.json": json.dumps({"systems": {"SFDC": {"x": 1}}}),
    }
    right = {
        "settings.toml": '[notifications]\nwebhook_secret = "value:whsec_SECRET2"\n',
        "source-systems.json": json.dumps(
            {"systems": {"SFDC": {"x": 1, "webhook_secret": "value:hunter2"}}}
        ),
    }
    diff = diff_bundles(left, right)
    assert _changes(diff) == [
        (
            "settings.toml",
            "notifications.webhook_secret",
            "changed",
            '"value:<literal>"',
            '"value:<literal>"',
        ),
        ("source-systems.json", "systems.SFDC.webhook_secret", "added", None, '"value:<literal>"'),
    ]
    shown = render_text(diff) + diff.model_dump_json()
    assert "SECRET1" not in shown and "SECRET2" not in shown and "hunter2" not in shown


def test_references_are_shown_as_they_are() -> None:
    left = {"settings.toml": '[records]\npassword = "env:A"\n'}
    right = {"settings.toml": '[records]\npassword = "file:/run/secrets/b"\n'}
    assert _changes(diff_bundles(left, right)) == [
        ("settings.toml", "records.password", "changed", '"env:A"', '"file:/run/secrets/b"')
    ]


def test_long_values_are_truncated_and_odd_keys_quoted() -> None:
    left = {"source-systems.json": json.dumps({"systems": {}})}
    right = {"source-systems.json": json.dumps({"systems": {"a.b c": "x" * 500}})}
    [change] = [c for f in diff_bundles(left, right).files for c in f.changes]
    assert change.path == 'systems["a.b c"]'
    assert change.right is not None and len(change.right) == MAX_VALUE_CHARS
    assert change.right.endswith("…")


def test_an_unreadable_file_is_one_change() -> None:
    diff = diff_bundles({ROUTING: "{"}, {ROUTING: _routing("dev")})
    [change] = diff.files[0].changes
    assert change.path == "(file)" and change.left is not None
    assert change.left.startswith("(not valid JSON: ") and change.right == "(valid)"


def test_dev_against_test_reads_well() -> None:
    dev = read_bundle_files(DEFAULT_CONFIG_DIR / "dev")
    test = read_bundle_files(DEFAULT_CONFIG_DIR / "test")
    assert set(dev) == set(test) and "settings.toml" in dev
    diff = diff_bundles(dev, test, left_label="dev", right_label="test")
    text = render_text(diff)
    lines = text.splitlines()
    assert lines[:2] == ["--- dev", "+++ test"]
    # dev has no [temporal] table: test's is shown field by field.
    assert '+ settings.toml  temporal.task_queue: "docflow-signing-test"' in lines
    assert (
        '~ settings.toml  api.api_keys[name=auditor].subject: "auditor@example.com" -> '
        '"audit@example.com"'
    ) in lines
    assert all(line[:2] in {"~ ", "+ ", "- "} for line in lines[2:-1])
    assert lines[-1].startswith(f"{diff.change_count} difference(s) in ")
    assert "value:dev-" not in text and "whsec_" not in text
    assert diff_bundles(dev, test) == diff_bundles(dev, test)  # deterministic
    assert json.loads(diff.model_dump_json())["same"] is False


def test_per_environment_differences_can_be_hidden() -> None:
    left = {
        "settings.toml": '[records]\npassword = "env:A"\nurl = "postgresql://a/db"\n',
        "source-systems.json": json.dumps(
            {
                "systems": {
                    "SAP": {
                        "status_endpoint": "http://127.0.0.1:8104",
                        "allowed_hosts": ["127.0.0.1"],
                        "description": "SAP (simulator)",
                    }
                }
            }
        ),
    }
    right = {
        "settings.toml": '[records]\npassword = "env:B"\nurl = "postgresql://b/db"\n',
        "source-systems.json": json.dumps(
            {
                "systems": {
                    "SAP": {
                        "status_endpoint": "https://erp.example.com",
                        "allowed_hosts": ["erp.example.com"],
                        "description": "SAP",
                    }
                }
            }
        ),
    }
    assert diff_bundles(left, right).change_count == 5
    hidden = diff_bundles(left, right, hide_per_environment=True)
    assert hidden.hidden == 4
    assert _changes(hidden) == [
        (
            "source-systems.json",
            "systems.SAP.description",
            "changed",
            '"SAP (simulator)"',
            '"SAP"',
        )
    ]
    assert render_text(hidden).endswith(
        "1 difference(s) in 1 of 2 files (0 file(s) added, 0 removed, 4 per-environment "
        "difference(s) hidden)\n"
    )
