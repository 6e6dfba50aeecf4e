"""`docflow records …` against the records API served on loopback, as its user runs it."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from simulators.kit.server import ServedApp
from starter.api.routes import records as records_routes
from starter.cli import app as cli
from tests.records_api.conftest import DOCUMENT, HOLD, SFDC_PROCESSES, WORKSPACE, auth


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    async with ServedApp(app, name="docflow API (records CLI)") as api:
        yield api.base_url


async def docflow(base_url: str, key: str, *args: str) -> Result:
    """Run `docflow records ...` (in a thread: the CLI runs its own event loop)."""
    argv = ["records", *args, "--api-url", base_url, "--api-key", auth(key)["X-API-Key"]]
    return await asyncio.to_thread(CliRunner().invoke, cli, argv)


async def test_list_show_and_the_subject_views(served: str) -> None:
    listed = await docflow(served, "crm", "list", "--outcome", "closed", "--limit", "500")
    paged = await docflow(served, "crm", "list", "--limit", "2", "--order", "started")
    cursor = paged.stderr.split("more: --cursor ")[1].split()[0]
    next_page = await docflow(
        served, "crm", "list", "--limit", "2", "--order", "started", "--cursor", cursor
    )
    show = await docflow(served, "crm", "show", "p-sfdc-doc")
    theirs = await docflow(served, "crm", "show", "p-sap-0")
    document = await docflow(served, "auditor", "document", str(DOCUMENT))
    workspace = await docflow(served, "crm", "workspace", str(WORKSPACE))
    audit = await docflow(served, "crm", "audit", "--business-key", "BK-p-sfdc-doc")
    bad = await docflow(served, "crm", "list", "--where", "started_from=yesterday")
    no_equals = await docflow(served, "crm", "list", "--where", "state")

    assert listed.exit_code == 0, listed.output
    # Not a terminal: one tab-separated line per process, the key first.
    keys = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert len(keys) == len(range(0, SFDC_PROCESSES, 3)) + 1 and "p-sfdc-doc" in keys
    first, second = (
        [line.split("\t")[0] for line in page.stdout.splitlines()] for page in (paged, next_page)
    )
    assert len(first) == len(second) == 2 and not set(first) & set(second)
    assert show.exit_code == 0 and "archived" in show.stdout and "alice@example.com" in show.stdout
    assert theirs.exit_code == 1 and "HTTP 404: no process record p-sap-0" in theirs.stderr
    assert document.exit_code == 0 and HOLD in document.stdout and "p-sap-0" in document.stdout
    # rich wraps lines at the (test) terminal width
    assert workspace.exit_code == 0 and "1 active holds" in " ".join(workspace.stdout.split())
    assert "p-sap" not in workspace.stdout
    assert [line.split("\t")[2] for line in audit.stdout.splitlines()] == [
        "started",
        "decision",
        "hold_applied",
    ]
    assert bad.exit_code == 1 and "started_from" in bad.stderr
    assert no_equals.exit_code == 2 and "NAME=VALUE" in no_equals.output


async def test_export_writes_every_page_to_a_file_or_stdout(
    served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_routes, "EXPORT_PAGE", 5)
    target = tmp_path / "processes.csv"

    to_file = await docflow(served, "crm", "export", "-o", str(target))
    to_stdout = await docflow(served, "auditor", "export", "approvals")
    access = await docflow(
        served,
        "auditor",
        "export",
        "access-log",
        "--since",
        "2026-12-01T12:01:00Z",
        "--where",
        "object_id=5001",
    )
    refused = await docflow(served, "crm", "export", "access-log", "-o", str(tmp_path / "x.csv"))

    assert to_file.exit_code == 0, to_file.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == SFDC_PROCESSES + 1
    assert f"{SFDC_PROCESSES + 1:,} rows of processes" in to_file.stderr
    assert not (tmp_path / "processes.csv.part").exists()
    approvals = list(csv.DictReader(io.StringIO(to_stdout.stdout)))
    assert sorted(a["decision"] for a in approvals) == ["approve", "reject", "reject", "reject"]
    assert [row["party"] for row in csv.DictReader(io.StringIO(access.stdout))] == [
        "partner:globex",
        "partner:acme",
    ]
    assert refused.exit_code == 1 and "may not read the access log" in refused.stderr
    assert not (tmp_path / "x.csv").exists()


async def test_export_warns_when_it_reaches_the_limit(
    served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_routes, "MAX_EXPORT_ROWS", 6)

    cut = await docflow(served, "auditor", "export")

    assert cut.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(cut.stdout)))) == 6
    assert "stopped at the API's limit of 6 rows" in cut.stderr
