"""Business-workspace activities against the Content Server simulator over real HTTP:
provisioning (created, adopted, bound, raced by ECM's connectors, refused, repeated), metadata,
filing (created, unchanged, new version, folders, duplicates, batches) and closing."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.content_server import ContentServerActivities
from activities.content_server.client import ContentServerClient
from docflow.docstore import LocalDocumentStore
from docflow.models.documents import DocumentRef
from docflow.models.workspaces import (
    BusinessObjectRef,
    CloseWorkspaceInput,
    FileDocumentInput,
    FileDocumentsInput,
    MetadataUpdate,
    RoleMembers,
    WorkspacePlan,
)
from tests.activities.simulated import Sim

ACME = BusinessObjectRef(ext_system_id="SFDC", bo_type="Account", bo_id="0015g00000ACME")


def plan(**changes: Any) -> WorkspacePlan:
    base = WorkspacePlan(
        object=ACME,
        name="ACME Corp (0015g00000ACME)",
        workspace_type_id=7,
        template_id=20001,
        category_id=9100,
        category_values={"1": "ACC-1", "2": "ACME Corp", "5": "Active"},
        roles=[
            RoleMembers(role="Account Team", members=["account-team", "alice@example.com"]),
            RoleMembers(role="Legal", members=["legal"], permissions=["see", "see_contents"]),
        ],
        rm_classification_id=5003,
        status_attribute="5",
    )
    return base.model_copy(update=changes)


@pytest.fixture
def activities(
    content_server_client: ContentServerClient, store: LocalDocumentStore
) -> ContentServerActivities:
    return ContentServerActivities(content_server_client, store, settle_s=0.05)


async def workspaces(sim: Sim) -> list[dict[str, Any]]:
    return list((await sim.control("GET", "/workspaces"))["results"])


async def detail(sim: Sim, node_id: int) -> dict[str, Any]:
    return dict((await sim.control("GET", f"/nodes/{node_id}"))["detail"])


def roles_of(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in node["roles"]}


async def stored(store: LocalDocumentStore, data: bytes, name: str = "doc.pdf") -> DocumentRef:
    return await store.put(data, filename=name, content_type="application/pdf")


# ------------------------------------------------------------------ provisioning


async def test_provision_creates_from_the_template_with_members_permissions_retention(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    provisioned = await activity_env.run(activities.provision_workspace, plan())
    assert provisioned.how == "created"
    assert provisioned.name == "ACME Corp (0015g00000ACME)"
    assert provisioned.link == (
        f"{content_server_sim.url}/otcs/cs.exe/app/nodes/{provisioned.workspace_id}"
    )
    node = await detail(content_server_sim, provisioned.workspace_id)
    assert node["parent_id"] == 2000  # the type's location: no parent_id was sent
    assert node["categories"] == {
        "9100": {"9100_1": "ACC-1", "9100_2": "ACME Corp", "9100_5": "Active"}
    }
    assert node["rm_classifications"] == [5003]
    assert node["references"] == [ACME.model_dump()]
    roles = roles_of(node)
    assert roles["Account Team"]["members"] == ["account-team", "alice@example.com"]
    assert roles["Legal"]["members"] == ["legal"]
    assert roles["Legal"]["permissions"] == ["see", "see_contents"]
    assert roles["Legal"]["apply_to"] == 2


async def test_provision_twice_is_one_workspace_with_members_once(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    first = await activity_env.run(activities.provision_workspace, plan())
    second = await activity_env.run(activities.provision_workspace, plan())
    assert (first.how, second.how) == ("created", "adopted")
    assert second.model_copy(update={"how": "created"}) == first
    assert len(await workspaces(content_server_sim)) == 1
    roles = roles_of(await detail(content_server_sim, first.workspace_id))
    assert roles["Account Team"]["members"] == ["account-team", "alice@example.com"]
    assert roles["Legal"]["members"] == ["legal"]


async def test_provision_adopts_a_workspace_bound_to_the_object(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    made = await content_server_sim.control(
        "POST",
        "/workspaces",
        json={"wksp_type_id": 7, "name": "ACME (made by SAP)", **ACME.model_dump()},
    )
    provisioned = await activity_env.run(activities.provision_workspace, plan())
    assert (provisioned.how, provisioned.workspace_id) == ("adopted", made["id"])
    assert provisioned.name == "ACME (made by SAP)"
    node = await detail(content_server_sim, made["id"])
    assert roles_of(node)["Legal"]["members"] == ["legal"]
    assert node["rm_classifications"] == [5003]
    assert len(await workspaces(content_server_sim)) == 1


async def test_provision_binds_an_unbound_workspace_of_that_name(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    made = await content_server_sim.control(
        "POST", "/workspaces", json={"wksp_type_id": 7, "name": "ACME Corp (0015g00000ACME)"}
    )
    assert made["references"] == []
    provisioned = await activity_env.run(activities.provision_workspace, plan())
    assert (provisioned.how, provisioned.workspace_id) == ("bound", made["id"])
    node = await detail(content_server_sim, made["id"])
    assert node["references"] == [ACME.model_dump()]
    assert roles_of(node)["Account Team"]["members"] == ["account-team", "alice@example.com"]
    again = await activity_env.run(activities.provision_workspace, plan())
    assert (again.how, again.workspace_id) == ("adopted", made["id"])
    assert len(await workspaces(content_server_sim)) == 1


async def test_a_name_taken_by_another_objects_workspace_is_a_conflict(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    other = {"ext_system_id": "SFDC", "bo_type": "Account", "bo_id": "0015g00000OTHER"}
    await content_server_sim.control(
        "POST",
        "/workspaces",
        json={"wksp_type_id": 7, "name": "ACME Corp (0015g00000ACME)", **other},
    )
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.provision_workspace, plan())
    assert error.value.type == "WorkspaceConflict" and error.value.non_retryable
    assert "0015g00000OTHER" in error.value.message


async def test_provision_raced_by_ecms_own_connector_adopts_its_workspace(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    await content_server_sim.control("PUT", "/connector", json={"preempt_next": 1})
    provisioned = await activity_env.run(activities.provision_workspace, plan())
    assert provisioned.how == "adopted"
    [only] = await workspaces(content_server_sim)
    assert only["id"] == provisioned.workspace_id
    node = await detail(content_server_sim, provisioned.workspace_id)
    assert node["audit"][0]["user_id"] == 999  # the connector made it
    assert roles_of(node)["Account Team"]["members"] == ["account-team", "alice@example.com"]
    assert node["rm_classifications"] == [5003]


async def test_unknown_members_are_refused_before_anything_is_created(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    roles = [
        RoleMembers(role="Account Team", members=["alice@example.com", "nobody@example.com"]),
        RoleMembers(role="Legal", members=["ghost-team", "legal"]),
    ]
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.provision_workspace, plan(roles=roles))
    assert error.value.type == "UnknownMembers" and error.value.non_retryable
    assert "'nobody@example.com', 'ghost-team'" in error.value.message
    assert error.value.details == ({"unknown": ["nobody@example.com", "ghost-team"]},)
    assert await workspaces(content_server_sim) == []


async def test_a_failed_create_is_retryable_and_the_retry_creates(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    await content_server_sim.fail_next(503, match="POST /otcs/cs.exe/api/v2/businessworkspaces")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.provision_workspace, plan())
    assert not error.value.non_retryable
    assert await workspaces(content_server_sim) == []
    retried = await activity_env.run(activities.provision_workspace, plan())
    assert retried.how == "created"


async def test_a_role_the_template_lacks_is_not_retryable(
    activities: ContentServerActivities, activity_env: ActivityEnvironment
) -> None:
    roles = [RoleMembers(role="Auditors", members=["alice@example.com"])]
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.provision_workspace, plan(roles=roles))
    assert error.value.type == "UnknownRoles" and error.value.non_retryable


async def test_configured_ui_url_makes_the_link(
    content_server_client: ContentServerClient,
    store: LocalDocumentStore,
    activity_env: ActivityEnvironment,
) -> None:
    activities = ContentServerActivities(
        content_server_client, store, ui_url="https://ecm.example.com/otcs/app/nodes/{id}"
    )
    provisioned = await activity_env.run(activities.provision_workspace, plan(roles=[]))
    assert provisioned.link == f"https://ecm.example.com/otcs/app/nodes/{provisioned.workspace_id}"


async def test_update_metadata_applies_then_updates_the_category(
    activities: ContentServerActivities, activity_env: ActivityEnvironment, content_server_sim: Sim
) -> None:
    provisioned = await activity_env.run(
        activities.provision_workspace, plan(category_values={}, roles=[])
    )
    assert (await detail(content_server_sim, provisioned.workspace_id))["categories"] == {}
    for version, status in [(1, "Active"), (2, "On hold")]:
        await activity_env.run(
            activities.update_workspace_metadata,
            MetadataUpdate(
                workspace_id=provisioned.workspace_id,
                category_id=9100,
                values={"2": "ACME Corp", "5": status},
                source_version=version,
            ),
        )
    node = await detail(content_server_sim, provisioned.workspace_id)
    assert node["categories"] == {"9100": {"9100_2": "ACME Corp", "9100_5": "On hold"}}


# ----------------------------------------------------------------------- filing


async def provisioned_id(activities: ContentServerActivities, env: ActivityEnvironment) -> int:
    return (await env.run(activities.provision_workspace, plan(roles=[]))).workspace_id


async def test_file_document_created_unchanged_new_version(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    v1 = await stored(store, b"%PDF-1.4 contract v1")
    item = FileDocumentInput(
        workspace_id=workspace_id,
        folder="Contracts",
        name="MSA ACME.pdf",
        document=v1,
        category_id=9300,
        category_values={"1": "contract", "2": "OPP-1"},
        rm_classification_id=5001,
    )
    created = await activity_env.run(activities.file_document, item)
    assert (created.outcome, created.version, created.sha256) == ("created", 1, v1.sha256)
    assert created.link.endswith(f"/otcs/cs.exe/app/nodes/{created.node_id}")
    contracts = await detail(content_server_sim, created.folder_id)
    assert contracts["name"] == "Contracts" and contracts["parent_id"] == workspace_id
    node = await detail(content_server_sim, created.node_id)
    assert node["description"] == f"sha256 {v1.sha256}"
    assert node["categories"] == {"9300": {"9300_1": "contract", "9300_2": "OPP-1"}}
    assert node["rm_classifications"] == [5001]

    again = await activity_env.run(activities.file_document, item)
    assert (again.outcome, again.node_id, again.version) == ("unchanged", created.node_id, 1)

    v2 = await stored(store, b"%PDF-1.4 contract v2")
    changed = await activity_env.run(
        activities.file_document, item.model_copy(update={"document": v2})
    )
    assert (changed.outcome, changed.node_id, changed.version) == (
        "new_version",
        created.node_id,
        2,
    )
    repeat = await activity_env.run(
        activities.file_document, item.model_copy(update={"document": v2})
    )
    assert (repeat.outcome, repeat.version) == ("unchanged", 2)
    node = await detail(content_server_sim, created.node_id)
    assert [v["sha256"] for v in node["versions"]] == [v1.sha256, v2.sha256]
    assert node["versions"][1]["description"] == f"sha256 {v2.sha256}"
    # Back to the first bytes: the newest version differs, so they are a new version.
    back = await activity_env.run(activities.file_document, item)
    assert (back.outcome, back.version) == ("new_version", 3)

    uploads = await content_server_sim.control("GET", "/uploads")
    [count] = [u for u in uploads["results"] if u["name"] == "MSA ACME.pdf"]
    assert (count["created"], count["versions_added"]) == (1, 2)


async def test_file_document_makes_a_missing_folder_and_files_into_the_root(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    ref = await stored(store, b"%PDF-1.4 minutes")
    minutes = await activity_env.run(
        activities.file_document,
        FileDocumentInput(
            workspace_id=workspace_id, folder="Minutes", name="M-1.pdf", document=ref
        ),
    )
    folder = await detail(content_server_sim, minutes.folder_id)
    assert (folder["name"], folder["type"], folder["parent_id"]) == ("Minutes", 0, workspace_id)
    root = await activity_env.run(
        activities.file_document,
        FileDocumentInput(workspace_id=workspace_id, name="Root.pdf", document=ref),
    )
    assert root.folder_id == workspace_id and root.outcome == "created"
    again = await activity_env.run(
        activities.file_document,
        FileDocumentInput(
            workspace_id=workspace_id, folder="Minutes", name="M-2.pdf", document=ref
        ),
    )
    assert again.folder_id == minutes.folder_id
    children = [c["name"] for c in (await detail(content_server_sim, workspace_id))["children"]]
    assert children.count("Minutes") == 1


async def test_concurrent_duplicates_make_one_node_and_no_extra_version(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    ref = await stored(store, b"%PDF-1.4 race")
    item = FileDocumentInput(
        workspace_id=workspace_id, folder="Documents", name="Race.pdf", document=ref
    )
    results = await asyncio.gather(
        *(activity_env.run(activities.file_document, item) for _ in range(4))
    )
    assert len({r.node_id for r in results}) == 1
    assert sorted(r.outcome for r in results) == ["created", "unchanged", "unchanged", "unchanged"]
    node = await detail(content_server_sim, results[0].node_id)
    assert len(node["versions"]) == 1


async def test_a_retry_after_an_upload_finds_it_and_adds_no_version(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    ref = await stored(store, b"%PDF-1.4 retried")
    item = FileDocumentInput(
        workspace_id=workspace_id, name="Retried.pdf", document=ref, rm_classification_id=5001
    )
    await content_server_sim.fail_next(503, match="rmclassifications")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.file_document, item)
    assert not error.value.non_retryable
    retried = await activity_env.run(activities.file_document, item)
    assert retried.outcome == "unchanged"
    node = await detail(content_server_sim, retried.node_id)
    assert (len(node["versions"]), node["rm_classifications"]) == (1, [5001])


async def test_file_documents_dedupes_by_sha256_within_the_folder(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    mail, form, statement = (
        await stored(store, b"%PDF-1.4 e-mail"),
        await stored(store, b"%PDF-1.4 claim form"),
        await stored(store, b"%PDF-1.4 statement"),
    )
    earlier = await activity_env.run(
        activities.file_document,
        FileDocumentInput(
            workspace_id=workspace_id, folder="Documents", name="Form (portal).pdf", document=form
        ),
    )

    def item(name: str, ref: DocumentRef) -> FileDocumentInput:
        return FileDocumentInput(
            workspace_id=workspace_id,
            folder="Documents",
            name=name,
            document=ref,
            category_id=9300,
            category_values={"3": name},
        )

    batch = FileDocumentsInput(
        workspace_id=workspace_id,
        items=[
            item("Mail 1.pdf", mail),
            item("Mail 1 (forwarded).pdf", mail),
            item("Claim form.pdf", form),
            item("Statement.pdf", statement),
        ],
        dedupe_sha256=True,
    )
    filed = await activity_env.run(activities.file_documents, batch)
    assert [(f.name, f.outcome) for f in filed] == [
        ("Mail 1.pdf", "created"),
        ("Mail 1.pdf", "unchanged"),
        ("Form (portal).pdf", "unchanged"),
        ("Statement.pdf", "created"),
    ]
    assert filed[2].node_id == earlier.node_id
    again = await activity_env.run(activities.file_documents, batch)
    assert [f.outcome for f in again] == ["unchanged"] * 4
    assert [f.node_id for f in again] == [f.node_id for f in filed]
    names = [c["name"] for c in (await detail(content_server_sim, filed[0].folder_id))["children"]]
    assert sorted(names) == ["Form (portal).pdf", "Mail 1.pdf", "Statement.pdf"]

    # Without dedupe each name is its own document.
    plain = await activity_env.run(
        activities.file_documents, batch.model_copy(update={"dedupe_sha256": False})
    )
    assert [f.outcome for f in plain] == ["unchanged", "created", "created", "unchanged"]


async def test_a_batch_for_another_workspace_is_refused(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    ref = await stored(store, b"%PDF-1.4 x")
    batch = FileDocumentsInput(
        workspace_id=1, items=[FileDocumentInput(workspace_id=2, name="x.pdf", document=ref)]
    )
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.file_documents, batch)
    assert error.value.type == "InvalidBatch" and error.value.non_retryable


async def test_file_documents_heartbeats_per_item(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    beats: list[Any] = []
    activity_env.on_heartbeat = lambda *details: beats.append(details)
    items = [
        FileDocumentInput(
            workspace_id=workspace_id,
            name=f"{n}.pdf",
            document=await stored(store, b"%%PDF %d" % n),
        )
        for n in range(3)
    ]
    await activity_env.run(
        activities.file_documents, FileDocumentsInput(workspace_id=workspace_id, items=items)
    )
    assert beats == [({"filed": n, "of": 3},) for n in (1, 2, 3)]


async def test_a_document_whose_description_lacks_the_hash_is_compared_by_its_bytes(
    activities: ContentServerActivities,
    content_server_client: ContentServerClient,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    data = b"%PDF-1.4 uploaded by a person"
    node = await content_server_client.upload_document(
        parent_id=workspace_id, name="Manual.pdf", content=data
    )
    ref = await stored(store, data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    filed = await activity_env.run(
        activities.file_document,
        FileDocumentInput(workspace_id=workspace_id, name="Manual.pdf", document=ref),
    )
    assert (filed.outcome, filed.node_id) == ("unchanged", node.id)


# ---------------------------------------------------------------------- closing


async def test_close_sets_the_status_and_retention_and_keeps_content(
    activities: ContentServerActivities,
    activity_env: ActivityEnvironment,
    content_server_sim: Sim,
    store: LocalDocumentStore,
) -> None:
    workspace_id = await provisioned_id(activities, activity_env)
    filed = await activity_env.run(
        activities.file_document,
        FileDocumentInput(
            workspace_id=workspace_id,
            folder="Contracts",
            name="Kept.pdf",
            document=await stored(store, b"%PDF-1.4 kept"),
        ),
    )
    before = (await content_server_sim.control("GET", "/nodes"))["count"]
    request = CloseWorkspaceInput(
        workspace_id=workspace_id,
        category_id=9100,
        status_attribute="5",
        closed_value="Closed",
        rm_classification_id=5003,
        reason="account terminated",
    )
    await activity_env.run(activities.close_workspace, request)
    await activity_env.run(activities.close_workspace, request)  # a retry changes nothing

    assert (await content_server_sim.control("GET", "/nodes"))["count"] == before
    workspace = await detail(content_server_sim, workspace_id)
    assert workspace["categories"]["9100"]["9100_5"] == "Closed"
    assert workspace["categories"]["9100"]["9100_2"] == "ACME Corp"
    assert workspace["rm_classifications"] == [5003]
    document = await detail(content_server_sim, filed.node_id)
    assert document["rm_classifications"] == [5003]
    assert len(document["versions"]) == 1
