"""Content Server client and activities against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.content_server import ContentServerActivities
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.models import Node
from activities.http.errors import AlreadyExistsError, AuthenticationError
from docflow.docstore import LocalDocumentStore
from docflow.models import (
    ArchiveDocumentInput,
    WorkspaceRequest,
    WorkspaceTarget,
)
from tests.activities.simulated import Sim
from tests.workflows.conftest import ROUTE

PDF = b"%PDF-1.4\n% signed contract\n%%EOF\n"
WORKSPACE = WorkspaceRequest(
    target=WorkspaceTarget(
        ext_system_id="SFDC", bo_type="Account", bo_id="0015g00000ABC", name="ACME Corp"
    ),
    route=ROUTE,
)


@pytest.fixture
def activities(
    content_server_client: ContentServerClient, store: LocalDocumentStore
) -> ContentServerActivities:
    return ContentServerActivities(content_server_client, store)


async def _archive_input(
    store: LocalDocumentStore, workspace_id: int, name: str = "Q-1001 - contract (signed).pdf"
) -> ArchiveDocumentInput:
    ref = await store.put(PDF, filename="contract (signed).pdf", content_type="application/pdf")
    return ArchiveDocumentInput(
        workspace_id=workspace_id,
        document=ref,
        name=name,
        category_id=9001,
        category_values={"2": "Q-1001", "6": "SFDC-Q-1001"},
        rm_classification_id=5001,
    )


async def test_expired_ticket_means_one_reauthentication(
    content_server_client: ContentServerClient, otcs_auth: OtcsTicketAuth, content_server_sim: Sim
) -> None:
    await content_server_client.get_node(2000)
    await content_server_client.get_node(2000)
    assert otcs_auth.logins == 1

    await content_server_sim.control("POST", "/tickets/expire")
    node = await content_server_client.get_node(2000)
    assert node.properties.name == "Customers"
    assert otcs_auth.logins == 2


async def test_wrong_password_is_an_authentication_error(
    http: httpx.AsyncClient, content_server_sim: Sim
) -> None:
    auth = OtcsTicketAuth(http, f"{content_server_sim.url}/otcs/cs.exe/api", "docflow", "x")
    with pytest.raises(AuthenticationError):
        await auth.ticket()


async def test_ensure_workspace_twice_gives_one_workspace(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
) -> None:
    first = await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    second = await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    assert first.created and not second.created
    assert first.id == second.id

    workspaces = await content_server_sim.control("GET", "/workspaces")
    assert workspaces["count"] == 1
    created = workspaces["results"][0]
    assert created["name"] == "ACME Corp"
    assert created["parent_id"] == 2000
    assert created["template_id"] == 20001
    assert created["references"] == [
        {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": "0015g00000ABC"}
    ]


async def test_concurrent_ensures_agree_on_one_workspace(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
) -> None:
    refs = await asyncio.gather(
        *(activity_env.run(activities.ensure_business_workspace, WORKSPACE) for _ in range(3))
    )
    assert len({r.id for r in refs}) == 1
    assert sum(r.created for r in refs) <= 1
    assert (await content_server_sim.control("GET", "/workspaces"))["count"] == 1


async def test_workspace_create_racing_into_already_exists_looks_up_again(
    activities: ContentServerActivities,
    content_server_client: ContentServerClient,
    activity_env: ActivityEnvironment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    real_find = content_server_client.find_workspace
    calls: list[str] = []

    async def stale_first_lookup(*args: str) -> Node | None:
        calls.append("find")
        return None if len(calls) == 1 else await real_find(*args)

    monkeypatch.setattr(content_server_client, "find_workspace", stale_first_lookup)
    ref = await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    assert ref.id == other.id and not ref.created
    assert calls == ["find", "find"]


async def test_archive_twice_gives_one_node_with_metadata_and_retention(
    activities: ContentServerActivities,
    content_server_client: ContentServerClient,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    content_server_sim: Sim,
) -> None:
    workspace = await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    request = await _archive_input(store, workspace.id)
    first = await activity_env.run(activities.archive_document, request)
    second = await activity_env.run(activities.archive_document, request)
    assert first.created and not second.created
    assert first.node_id == second.node_id

    uploads = await content_server_sim.control("GET", "/uploads")
    assert uploads["duplicates"] == []
    assert [u["created"] for u in uploads["results"]] == [1]
    dump = (await content_server_sim.control("GET", f"/nodes/{first.node_id}"))["dump"]
    assert dump["categories"] == {"9001": {"9001_2": "Q-1001", "9001_6": "SFDC-Q-1001"}}
    assert dump["rm_classifications"] == [5001]
    node = await content_server_client.get_node(first.node_id)
    assert node.properties.size == len(PDF)
    assert node.properties.mime_type == "application/pdf"
    assert len(node.versions) == 1


async def test_retry_after_upload_still_applies_retention(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    content_server_sim: Sim,
) -> None:
    workspace = await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    request = await _archive_input(store, workspace.id)
    await content_server_sim.fail_next(503, match="rmclassifications")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.archive_document, request)
    assert not error.value.non_retryable

    retried = await activity_env.run(activities.archive_document, request)
    assert not retried.created
    dump = (await content_server_sim.control("GET", f"/nodes/{retried.node_id}"))["dump"]
    assert dump["rm_classifications"] == [5001]


async def test_archive_into_missing_workspace_is_not_retryable(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.archive_document, await _archive_input(store, 999_999))
    assert error.value.non_retryable
    assert error.value.type == "NotFoundError"


async def test_429_and_5xx_are_retryable_with_retry_after(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
) -> None:
    await content_server_sim.fail_next(429, retry_after_s=12, match="GET /otcs/cs.exe/api/v2/bus")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    assert not error.value.non_retryable
    assert error.value.next_retry_delay == timedelta(seconds=12)

    await content_server_sim.fail_next(500, match="POST /otcs/cs.exe/api/v2/businessworkspaces")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.ensure_business_workspace, WORKSPACE)
    assert not error.value.non_retryable


async def test_client_calls(
    content_server_client: ContentServerClient, content_server_sim: Sim
) -> None:
    client = content_server_client
    node = await client.upload_document(
        parent_id=2000, name="Price list.pdf", content=PDF, description="prices"
    )
    assert node.name == "Price list.pdf" and node.parent_id == 2000
    with pytest.raises(AlreadyExistsError):
        await client.upload_document(parent_id=2000, name="Price list.pdf", content=PDF)
    # where_name matches parts of names; only the exact name counts.
    assert await client.find_child_by_name(2000, "Price list") is None
    found = await client.find_child_by_name(2000, "Price list.pdf")
    assert found is not None and found.id == node.id

    await client.add_version(node.id, filename="Price list.pdf", content=PDF + b"v2")
    await client.set_categories(node.id, 9001, {"9001_2": "D-7"})
    await client.apply_rm_classification(node.id, 5002)
    full = await client.get_node(node.id)
    assert len(full.versions) == 2
    assert full.categories == [{"9001_2": "D-7"}]

    page = await client.search("OTName:Price*")
    assert [r.id for r in page.results] == [node.id]
    assert page.total == 1
