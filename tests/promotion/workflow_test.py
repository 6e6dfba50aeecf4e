"""ConfigPromotionWorkflow on the time-skipping server with the real candidate and apply
activities (SQLite versions store, local document store, a copy of the dev bundle) and a
stand-in for the live checks: approved and applied (and picked up by a reader), the proposer
and strangers refused as deciders, refused by validation or by the live checks, rejected,
expired, superseded by a promotion applied meanwhile, unchanged, and a rollback."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.promotion.activities import PromotionActivities
from docflow.config.bundle import BundleReader, concern_texts
from docflow.config.routing import RoutingRules
from docflow.config.versions import ConfigVersions
from docflow.docstore import LocalDocumentStore
from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, UpdateAccepted
from docflow.models.environment import LiveCheck, LiveReport
from docflow.models.integration import Notification
from docflow.models.promotion import CandidateRequest, PromotionInput, PromotionStatus
from docflow.records.store import RecordStore
from docflow.settings import DEFAULT_CONFIG_DIR, Settings
from starter.processes.promotion import candidate_archive
from tests.workflows.kit.support import kit_worker
from workflows.promotion import ConfigPromotionWorkflow

ENV = "dev"
DANA, RITA, ROB = "dana@example.com", "rita@example.com", "rob@example.com"
BAD_TEMPLATE = "no-such-template"


@dataclass
class Stand:
    client: Client
    task_queue: str
    settings: Settings
    store: LocalDocumentStore
    versions: ConfigVersions
    notified: list[Notification]

    def files(self) -> dict[str, str]:
        return concern_texts(self.settings.config_dir / ENV)

    async def start(
        self, files: dict[str, str], key: str, *, kind: str = "promotion", **stage: object
    ) -> WorkflowHandle:
        data = candidate_archive(files, environment=ENV, source="test")
        ref = await self.store.put(data, filename=f"{key}.json", content_type="application/json")
        spec = {"name": "release", "approvers": [RITA, ROB], "deadline": timedelta(days=2)}
        request = PromotionInput(
            promotion_id=key,
            kind=kind,  # type: ignore[arg-type]
            environment=ENV,
            source="test",
            candidate=ref,
            proposer=DANA,
            reason="pilot template",
            approval=ApprovalStageSpec.model_validate({**spec, **stage})
            if kind == "promotion"
            else None,
        )
        return await self.client.start_workflow(
            ConfigPromotionWorkflow.run, request, id=f"promo-{key}", task_queue=self.task_queue
        )


def with_template(files: dict[str, str], template: str) -> dict[str, str]:
    routing = json.loads(files["signing-routing.json"])
    routing["rules"][0]["signature_template"] = template
    return {**files, "signing-routing.json": json.dumps(routing, indent=2)}


async def status(handle: WorkflowHandle) -> PromotionStatus:
    return await handle.query("status", result_type=PromotionStatus)


async def awaiting(handle: WorkflowHandle) -> PromotionStatus:
    for _ in range(200):
        current = await status(handle)
        if current.state != "validating" and current.state != "checking_live":
            return current
        await asyncio.sleep(0.05)
    raise AssertionError("the promotion never got past its checks")


async def decide(handle: WorkflowHandle, actor: str, decision: Decision) -> UpdateAccepted:
    return await handle.execute_update(
        "decide", ApprovalDecision(actor=actor, decision=decision), result_type=UpdateAccepted
    )


@activity.defn(name="check_promotion_live")
async def live_stand_in(request: CandidateRequest) -> LiveReport:
    """Every template exists but BAD_TEMPLATE (the real checks are tested with simulators)."""
    files = json.loads(await STORE.get(request.candidate))["files"]
    rules = RoutingRules.model_validate_json(files["signing-routing.json"])
    return LiveReport(
        checks=[
            LiveCheck(
                system="core_signature",
                file="signing-routing.json",
                path=f"rules[{i}].signature_template",
                subject=f"signature template {rule.signature_template!r}",
                ok=rule.signature_template != BAD_TEMPLATE,
                message="exists" if rule.signature_template != BAD_TEMPLATE else "not found",
            )
            for i, rule in enumerate(rules.rules)
        ]
    )


NOTIFIED: list[Notification] = []
STORE: LocalDocumentStore


@activity.defn(name="notify")
async def notify_stand_in(notification: Notification) -> None:
    NOTIFIED.append(notification)


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_CONFIG_DIR / ENV, tmp_path / "config" / ENV)
    return tmp_path / "config"


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordStore]:
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
async def stand(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    bundle_dir: Path,
    records: RecordStore,
) -> AsyncIterator[Stand]:
    global STORE
    settings = Settings(profile=ENV, config_dir=bundle_dir, data_dir=tmp_path)
    STORE = LocalDocumentStore(tmp_path / "documents")
    versions = ConfigVersions(records)
    NOTIFIED.clear()
    async with httpx.AsyncClient() as http:
        real = PromotionActivities(settings, STORE, versions, http)
        async with kit_worker(
            time_skipping_env.client,
            task_queue,
            [ConfigPromotionWorkflow],
            [real.check_candidate, real.apply, live_stand_in, notify_stand_in],
        ):
            yield Stand(time_skipping_env.client, task_queue, settings, STORE, versions, NOTIFIED)


async def test_an_approved_promotion_becomes_the_version_workers_read(stand: Stand) -> None:
    handle = await stand.start(with_template(stand.files(), "nda-v2"), "p-approved")
    waiting = await awaiting(handle)
    assert waiting.state == "awaiting_approval"
    assert waiting.check is not None and waiting.check.current is None
    assert waiting.check.changed_files == ["signing-routing.json"]
    assert '"nda-v2"' in waiting.check.diff_text and "1 difference(s)" in waiting.check.diff_summary
    assert waiting.live is not None and waiting.live.ok

    # The proposer never decides, nor does someone who is not a release approver.
    for actor, why in ((DANA, "separation of duties"), ("eve@example.com", "")):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await decide(handle, actor, Decision.APPROVE)
        assert why in str(refused.value.cause)
    await decide(handle, RITA, Decision.APPROVE)
    done = await handle.result()
    assert (done.state, done.applied_version, done.approver) == ("applied", 1, RITA)
    applied = stand.versions.current(ENV)
    assert applied is not None
    assert (applied.proposer, applied.approver, applied.kind) == (DANA, RITA, "promotion")
    assert [e.kind for e in done.audit][:3] == ["proposed", "diffed", "validated"]
    assert {"live_checked", "decision", "applied"} <= {e.kind for e in done.audit}
    decided = next(e for e in done.audit if e.kind == "decision")  # the read model's approval
    assert (decided.actor, decided.data) == (
        RITA,
        {"comment": "", "decision": "approve", "stage": "release"},
    )
    # A running worker's reader (no restart) now routes with the new template.
    reader = BundleReader(ENV, stand.settings.config_dir, versions=stand.versions, poll_s=0)
    bundle = await reader.current()
    assert bundle.applied == 1
    assert bundle.get(RoutingRules).rules[0].signature_template == "nda-v2"
    assert NOTIFIED[-1].recipients == [DANA] and "applied" in NOTIFIED[-1].subject


async def test_validation_problems_refuse_it_with_file_and_field(stand: Stand) -> None:
    routing = json.loads(stand.files()["signing-routing.json"])
    routing["rules"][0]["max_signers"] = "many"
    records = json.loads(stand.files()["records.json"])
    records["environment"] = "prod"
    files = {
        **stand.files(),
        "signing-routing.json": json.dumps(routing),
        "records.json": json.dumps(records),
    }
    done = await (await stand.start(files, "p-invalid")).result()
    assert done.state == "refused"
    assert done.check is not None
    problems = "\n".join(done.check.problems)
    assert "signing-routing.json: rules[0].max_signers:" in problems
    assert "records.json: environment: is 'prod' but the bundle is 'dev'" in problems
    assert done.live is None  # the live systems are not bothered with an invalid bundle
    assert stand.versions.current_number(ENV) is None


async def test_a_failed_live_check_refuses_it(stand: Stand) -> None:
    done = await (await stand.start(with_template(stand.files(), BAD_TEMPLATE), "p-live")).result()
    assert done.state == "refused"
    assert f"signature template '{BAD_TEMPLATE}'" in done.outcome_reason
    assert "not found" in done.outcome_reason
    assert stand.versions.current_number(ENV) is None
    assert NOTIFIED[-1].data["state"] == "refused"


async def test_rejected_and_expired_promotions_apply_nothing(
    stand: Stand, time_skipping_env: WorkflowEnvironment
) -> None:
    rejected = await stand.start(with_template(stand.files(), "nda-v2"), "p-rejected")
    await awaiting(rejected)
    await decide(rejected, ROB, Decision.REJECT)
    assert (await rejected.result()).state == "rejected"

    expiring = await stand.start(
        with_template(stand.files(), "nda-v3"),
        "p-expired",
        deadline=timedelta(hours=4),
        reminder_before=timedelta(hours=1),
        escalation_window=timedelta(hours=2),
    )
    await awaiting(expiring)
    done = await expiring.result()  # the time-skipping server runs the clock out
    assert done.state == "expired"
    assert stand.versions.current_number(ENV) is None


async def test_a_promotion_checked_against_an_older_version_is_superseded(stand: Stand) -> None:
    first = await stand.start(with_template(stand.files(), "nda-v2"), "p-first")
    second = await stand.start(with_template(stand.files(), "nda-v3"), "p-second")
    await awaiting(first)
    await awaiting(second)
    await decide(first, RITA, Decision.APPROVE)
    assert (await first.result()).applied_version == 1
    await decide(second, RITA, Decision.APPROVE)
    done = await second.result()
    assert done.state == "superseded"
    assert "propose it again" in done.outcome_reason
    assert stand.versions.current_number(ENV) == 1


async def test_the_same_files_again_are_unchanged_and_a_rollback_restores(stand: Stand) -> None:
    unchanged = await (await stand.start(stand.files(), "p-same")).result()
    assert unchanged.state == "unchanged" and unchanged.stage is None

    for key, template in (("p-1", "nda-v2"), ("p-2", "nda-v3")):
        handle = await stand.start(with_template(stand.files(), template), key)
        await awaiting(handle)
        await decide(handle, ROB, Decision.APPROVE)
        await handle.result()
    current, previous = stand.versions.rollback_target(ENV)
    assert previous is not None and (current.number, previous.number) == (2, 1)
    rollback = await stand.start(previous.files, "rollback-v2", kind="rollback")
    done = await rollback.result()  # no approval wait: that configuration was approved
    assert (done.state, done.applied_version) == ("applied", 3)
    assert done.live is None
    restored = stand.versions.current(ENV)
    assert restored is not None and restored.kind == "rollback"
    assert restored.files == previous.files and restored.replaces == 2
