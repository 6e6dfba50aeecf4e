"""The operators' CLI commands (list, retry-now, redeliver, batch) against the real API served
on loopback, in front of the stand-in workflow on the dev server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from typer.testing import CliRunner, Result

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef
from docflow.settings import Settings
from simulators.kit.server import ServedApp
from starter.api import create_app
from starter.cli import app as cli
from starter.processes.signing import SigningProcesses
from tests.api.support import new_key, signing_request


@pytest.fixture
async def served(
    settings: Settings, temporal: Client, store: LocalDocumentStore
) -> AsyncIterator[str]:
    async with ServedApp(create_app(settings, temporal, store), name="docflow API (CLI)") as api:
        yield api.base_url


async def docflow(base_url: str, key: str, *args: str) -> Result:
    """Run `docflow ...` as its user would (in a thread: the CLI runs its own event loop)."""
    argv = [*args, "--api-url", base_url, "--api-key", f"test-{key}-key"]
    return await asyncio.to_thread(CliRunner().invoke, cli, argv)


async def test_operators_list_and_repair_from_the_command_line(
    served: str, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = new_key("CLI")
    await processes.start(
        signing_request(key, approvers=["alice@example.com"]), document, "app:crm"
    )

    async def listed(as_key: str) -> str:
        for _ in range(100):  # visibility is eventually consistent
            result = await docflow(served, as_key, "list", "--source-system", "SFDC")
            assert result.exit_code == 0, result.output
            if key in result.output:
                break
            await asyncio.sleep(0.1)
        return result.output

    # Not a terminal: one tab-separated line per process, the key whole (grep-able).
    assert f"{key}\t" in await listed("ops")
    assert key in await listed("alice")  # assigned to her
    bob = await docflow(served, "bob", "list", "--source-system", "SFDC")
    assert bob.exit_code == 0 and key not in bob.output  # not his

    nothing = await docflow(served, "ops", "retry-now", key)
    assert nothing.exit_code == 0, nothing.output
    assert f"no step of {key} is retrying" in nothing.output

    refused = await docflow(served, "ops", "redeliver", key)
    assert refused.exit_code == 1 and "Traceback" not in refused.output

    unfiltered = await docflow(served, "ops", "batch", "retry")
    assert unfiltered.exit_code == 1
    assert "never means 'everything'" in " ".join(unfiltered.output.split())  # however wrapped
