"""Applied configuration versions (docflow.config.versions) on SQLite and PostgreSQL, and a
bundle reader following them."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from docflow.config.bundle import BundleReader, concern_texts, load_bundle
from docflow.config.routing import RoutingRules
from docflow.config.versions import ConfigVersions, NothingToRollBack, VersionConflict
from docflow.records.store import RecordStore
from docflow.settings import DEFAULT_CONFIG_DIR

ENV = "dev"


def _concerns(directory: Path) -> dict[str, str]:
    return concern_texts(directory)


def _with_template(files: dict[str, str], template: str) -> dict[str, str]:
    routing = json.loads(files["signing-routing.json"])
    routing["rules"][0]["signature_template"] = template
    return {**files, "signing-routing.json": json.dumps(routing)}


def _apply(versions: ConfigVersions, files: dict[str, str], change: str, expected: int | None):
    return versions.apply(
        ENV,
        files,
        content_version=change,
        change_id=change,
        kind="promotion",
        expected=expected,
        proposer="dana@example.com",
        approver="rita@example.com",
    )


def test_versions_are_numbered_idempotent_and_guarded(store: RecordStore) -> None:
    versions = ConfigVersions(store)
    files = _concerns(DEFAULT_CONFIG_DIR / ENV)
    assert versions.current_number(ENV) is None

    first = _apply(versions, files, "p-1", None)
    assert (first.number, first.replaces, first.approver) == (1, None, "rita@example.com")
    # The same change applied again (a retried activity) is the version it became.
    assert _apply(versions, files, "p-1", None).number == 1
    second = _apply(versions, _with_template(files, "nda-v2"), "p-2", 1)
    assert (second.number, second.replaces) == (2, 1)
    assert versions.current(ENV) == second
    # Validated against version 1, but the environment moved on: refused, nothing written.
    with pytest.raises(VersionConflict) as conflict:
        _apply(versions, files, "p-3", 1)
    assert (conflict.value.expected, conflict.value.current) == (1, 2)
    assert versions.current_number(ENV) == 2
    assert versions.current_number("test") is None  # environments are apart
    assert [v.number for v in versions.history(ENV)] == [2, 1]


def test_concurrent_applies_of_different_changes_one_wins(store: RecordStore) -> None:
    versions = ConfigVersions(store)
    files = _concerns(DEFAULT_CONFIG_DIR / ENV)
    _apply(versions, files, "base", None)

    def attempt(change: str) -> str:
        try:
            return f"applied {_apply(versions, files, change, 1).number}"
        except VersionConflict:
            return "conflict"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, ["a", "b", "c", "d"]))
    assert outcomes == ["applied 2", "conflict", "conflict", "conflict"]


def test_rollback_restores_what_the_current_version_replaced(store: RecordStore) -> None:
    versions = ConfigVersions(store)
    files = _concerns(DEFAULT_CONFIG_DIR / ENV)
    with pytest.raises(NothingToRollBack):
        versions.rollback_target(ENV)
    first = _apply(versions, files, "p-1", None)
    assert versions.rollback_target(ENV) == (first, None)  # back to the bundle's files
    _apply(versions, _with_template(files, "bad"), "p-2", 1)
    current, previous = versions.rollback_target(ENV)
    assert (current.number, previous.number) == (2, 1)
    assert previous.files == files


async def test_a_reader_follows_the_newest_applied_version(
    store: RecordStore, tmp_path: Path
) -> None:
    shutil.copytree(DEFAULT_CONFIG_DIR / ENV, tmp_path / ENV)
    versions = ConfigVersions(store)
    reader = BundleReader(ENV, tmp_path, versions=versions, poll_s=0)
    on_files = await reader.current()
    assert on_files.applied is None  # nothing applied yet: the directory's files
    assert on_files.version == load_bundle(ENV, tmp_path, check_secrets=False).version

    _apply(versions, _with_template(_concerns(tmp_path / ENV), "nda-v2"), "p-1", None)
    applied = await reader.current()
    assert applied.applied == 1 and applied.label.startswith("v1 (")
    assert applied.get(RoutingRules).rules[0].signature_template == "nda-v2"
    # Files edited on disk no longer matter once a version is applied.
    routing = tmp_path / ENV / "signing-routing.json"
    routing.write_text(routing.read_text().replace('"rules"', '"rules" ', 1))
    assert (await reader.current()).get(RoutingRules).rules[0].signature_template == "nda-v2"


async def test_a_slow_poll_keeps_the_version_it_read(store: RecordStore, tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_CONFIG_DIR / ENV, tmp_path / ENV)
    versions = ConfigVersions(store)
    reader = BundleReader(ENV, tmp_path, versions=versions, poll_s=3600)
    before = await reader.current()
    _apply(versions, _with_template(_concerns(tmp_path / ENV), "nda-v2"), "p-1", None)
    assert (await reader.current()) is before  # looked up again only after poll_s
