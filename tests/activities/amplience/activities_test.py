"""The Amplience activities against the simulator (ActivityEnvironment, real HTTP)."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.amplience.activities import (
    AmplienceActivities,
    ItemRef,
    SetWorkflowStateInput,
    UpsertItemInput,
)
from activities.amplience.client import AmplienceClient
from tests.activities.amplience.conftest import CONFIG, SCHEMA
from tests.activities.simulated import Sim


async def test_upsert_move_publish_and_read(client: AmplienceClient, amplience_sim: Sim) -> None:
    acts = AmplienceActivities(client)
    env = ActivityEnvironment()
    body: dict[str, object] = {"_meta": {"schema": SCHEMA}, "sku": "P-1"}
    created = await env.run(
        acts.upsert_item,
        UpsertItemInput(repository_id=CONFIG.repository_id, label="P-1", body=body),
    )
    # A content person edits in between; the update is re-applied at the new version.
    await amplience_sim.control("POST", f"/items/{created.id}/edit", json={"label": "edited"})
    updated = await env.run(
        acts.upsert_item,
        UpsertItemInput(
            repository_id=CONFIG.repository_id, label="P-1 v2", body=body, item_id=created.id
        ),
    )
    assert (updated.label, updated.version) == ("P-1 v2", 3)
    moved = await env.run(
        acts.set_workflow_state,
        SetWorkflowStateInput(item_id=created.id, state_label="Integration failed", version=1),
    )
    assert moved.workflow_state == "5f1a0c1e2b3c4d5e6f700004"
    job = await env.run(acts.publish, ItemRef(item_id=created.id))
    assert job.state == "COMPLETED"
    first = await env.run(acts.get_item, ItemRef(item_id=created.id, version=1))
    assert first.label == "P-1"


async def test_refusals_are_non_retryable_and_429_retryable(
    client: AmplienceClient, amplience_sim: Sim
) -> None:
    acts = AmplienceActivities(client)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as refused:
        await env.run(
            acts.upsert_item,
            UpsertItemInput(repository_id=CONFIG.repository_id, label="x", body={"_meta": {}}),
        )
    assert refused.value.non_retryable and refused.value.type == "InvalidContentError"
    created = await env.run(
        acts.upsert_item,
        UpsertItemInput(
            repository_id=CONFIG.repository_id, label="x", body={"_meta": {"schema": SCHEMA}}
        ),
    )
    await amplience_sim.control("PUT", "/publishing", json={"limit": 1})
    await env.run(acts.publish, ItemRef(item_id=created.id))
    with pytest.raises(ApplicationError) as limited:
        await env.run(acts.publish, ItemRef(item_id=created.id))
    assert not limited.value.non_retryable and limited.value.next_retry_delay is None
