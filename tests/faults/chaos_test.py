"""Chaos: SIGKILLed workers, a dev-server restart and flaky vendors during a batch of signings,
account renames, and Amplience content approvals while one distribution target is down.

The long version (`DOCFLOW_CHAOS_SIZE=100`) is what `docflow bench --faults` runs."""

from __future__ import annotations

import asyncio
import hmac
import math
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution as WorkflowExecutionRef
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import Client

from activities.content_server import options as content_server
from activities.core_signature import options as core_signature
from devstack.embedded import EmbeddedStack
from devstack.samples import APPROVER_KEYS, CRM_KEY, contract_pdf, legal, sample_request
from docflow.models import SigningState, SigningStatus
from docflow.models.status import TERMINAL_STATES
from docflow.temporal import business_object_workflow_id, signing_workflow_id
from starter.api_client import DocflowApiClient, DocflowApiError
from tests.stacks import fast_polling_stack, get_json, put_json

T = TypeVar("T")

LONG = "DOCFLOW_CHAOS_SIZE" in os.environ
SIZE = int(os.environ.get("DOCFLOW_CHAOS_SIZE", "12"))
SEED = int(os.environ.get("DOCFLOW_CHAOS_SEED", "11"))
APPROVAL_EVERY = 4  # every 4th process has a legal stage approved over HTTP; the rest are NDAs
START_SPREAD_S = max(6.0, SIZE * 0.25)  # starts are spread so the kills hit every phase
CHAOS_S = START_SPREAD_S + 12.0  # workers are killed at least this long; Temporal restarts midway
MIN_KILLS = 3
# Then the kills go on until the first processes (half the batch in the long version) have
# reported, so they also hit the archive and report phases; for at most CHAOS_MAX_S.
CHAOS_UNTIL_REPORTED = math.ceil(SIZE * (0.5 if LONG else 0.1))
CHAOS_MAX_S = CHAOS_S + (90.0 if LONG else 25.0)
KILL_AFTER_S = (2.0, 3.0)  # a worker is SIGKILLed this long after it started polling
# Once the chaos is over (faults off), an unlucky activity may still be waiting out its retry
# backoff: the interval grows with the attempt number whatever the earlier (Retry-After
# short) delays were, so a 503 on attempt 9 of an archive schedules attempt 10 at the
# Content Server policy's cap, 5 min later. A lost attempt is retried after its heartbeat
# timeout, at worst its start-to-close timeout. The bound is the longest such wait (the CRM
# report policy's cap is longer, but its few calls would need five 503s in a row).
SETTLE_S = (
    max(
        content_server.TRANSFER.retry.maximum_interval or timedelta(0),
        core_signature.TRANSFER.retry.maximum_interval or timedelta(0),
    )
    + core_signature.TRANSFER.start_to_close
    + timedelta(minutes=1)
).total_seconds()
WORKER_POLLING = "worker polling task queue"  # worker.py logs this line when it starts polling
WORKSPACE_BO_ID = "0015g00000ACME"  # every sample request files into this customer's workspace

VENDOR_FAULTS: dict[str, Any] = {
    "latency_ms": 20,
    "error_rate": 0.15,
    "error_status": 503,
    "rate_limit_every": 7,
    "retry_after_s": 1,
    "seed": SEED,
}
# The CRM gets few calls while the chaos lasts (approval notifications, early reports), so its
# first two are throttled for sure. Report retries back off from 5 s by x4 (the Standard
# Webhooks schedule), hence a lighter 503 rate.
CRM_FAULTS: dict[str, Any] = {
    **VENDOR_FAULTS,
    "error_rate": 0.1,
    "fail_next": {"count": 2, "status": 429, "retry_after_s": 1},
}
AUTOPILOT: dict[str, Any] = {"enabled": True, "action": "sign", "after_ms": 400}


@dataclass
class ChaosLog:
    """What the chaos did, for the assertions and the printed summary."""

    began: float = field(default_factory=time.monotonic)
    kills: int = 0
    temporal_restarts: int = 0
    temporal_restart_s: float = 0.0
    chaos_s: float = 0.0
    worker_startup_s: list[float] = field(default_factory=list)
    api_unavailable: Counter[str] = field(default_factory=Counter)
    finished_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    replays_answered: int = 0


@pytest.fixture(scope="module")
async def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    data_dir = tmp_path_factory.mktemp("docflow-chaos")
    async with fast_polling_stack(data_dir, worker="subprocess") as running:
        yield running


@pytest.mark.timeout(CHAOS_MAX_S + SETTLE_S + 180)
async def test_batch_survives_worker_kills_a_server_restart_and_vendor_faults(
    chaos_stack: EmbeddedStack,
) -> None:
    stack = chaos_stack
    log = ChaosLog()
    rng = random.Random(SEED)
    batch = uuid.uuid4().hex[:6]
    keys = [f"CHAOS-{batch}-{i:03d}" for i in range(SIZE)]
    with_approval = {key for i, key in enumerate(keys) if i % APPROVAL_EVERY == 0}
    accounts = [f"001CHAOS{batch.upper()}{i:02d}" for i in range(ACCOUNTS)]

    async with httpx.AsyncClient(timeout=30) as http:
        api = DocflowApiClient(stack.api_url, CRM_KEY, http=http)
        await put_json(http, f"{stack.core_signature_url}/_control/autopilot", AUTOPILOT)
        await _set_faults(http, stack, VENDOR_FAULTS, CRM_FAULTS)
        replay = _Replayer(stack, http, log)
        # The B2B network is down for the whole chaos: its deliveries give up on their schedule
        # and the items fail; the other targets take every version meanwhile.
        await put_json(
            http, f"{stack.webhook_target_url}/_control/endpoints/{DOWN}", {"down": True}
        )
        items = [ContentCase(i) for i in range(CONTENT_ITEMS)]
        drivers = (
            [
                asyncio.create_task(
                    _drive(api, http, key, key in with_approval, START_SPREAD_S * i / SIZE, log),
                    name=key,
                )
                for i, key in enumerate(keys)
            ]
            + [
                # Accounts created and renamed in the CRM while the chaos lasts: each event
                # reaches its workspace process through the receiver (retried by the CRM on 503).
                asyncio.create_task(
                    _drive_account(http, stack, bo_id, rng.uniform(0, 6)), name=bo_id
                )
                for bo_id in accounts
            ]
            + [
                # Content items approved (some twice, edited in between) while the workers die
                # and the dev server restarts; each approval is a signed Amplience webhook.
                asyncio.create_task(
                    _drive_content(http, stack, case, rng.uniform(0, CHAOS_S - 4)),
                    name=f"content-{case.number}",
                )
                for case in items
            ]
            + [
                # Forged terminal replays: a correctly hashed "declined" of another time, aimed at
                # a process whose document is out for signature. Core Signature says otherwise.
                asyncio.create_task(replay(api, key), name=f"replay-{key}")
                for i, key in enumerate(keys)
                if key not in with_approval and i % 3 == 1
            ]
        )
        try:
            await _chaos(stack, rng, log, lambda: _reported(http, stack, batch))
            faults = {n: await get_json(http, f"{url}/_control/faults") for n, url in _sims(stack)}
            await _set_faults(http, stack, {}, {})
            await asyncio.gather(*drivers)
        finally:
            for driver in drivers:
                driver.cancel()
        back_at = datetime.now(UTC)
        await put_json(http, f"{stack.webhook_target_url}/_control/endpoints/{DOWN}", {})
        phases = {"chaos and drivers": time.monotonic() - log.began}
        final = await _wait_all_ended(api, keys, log)
        phases["signings ended"] = time.monotonic() - log.began
        synced = await _accounts_synced(api, http, stack, accounts)
        phases["accounts synced"] = time.monotonic() - log.began
        content = await _content_settled(http, stack, items, log)
        phases["content settled"] = time.monotonic() - log.began
        print("phases (s since the start):", {k: round(v) for k, v in phases.items()})

        requests = await get_json(http, f"{stack.core_signature_url}/_control/signature-requests")
        uploads = await get_json(http, f"{stack.content_server_url}/_control/uploads")
        workspaces = await get_json(http, f"{stack.content_server_url}/_control/workspaces")
        reports = await get_json(http, f"{stack.crm_url}/_control/reports")
    assert stack.client is not None
    lost = await _lost_attempts(stack.client, keys)
    print(_summary(log, final, faults, requests, uploads, reports, lost))

    # Every process ended within the bound, and completed.
    unfinished = [key for key in keys if key not in log.finished_s]
    pending = await _pending_activities(stack.client, unfinished)
    stuck = {
        key: f"{final[key].state.value if key in final else '(no answer)'}; pending: {pending[key]}"
        for key in unfinished
    }
    if stuck:
        kept = await _keep_histories(stack.client, unfinished)
        pytest.fail(f"not ended {SETTLE_S:.0f} s after the chaos: {stuck}; histories in {kept}")
    failed = {
        key: f"{s.state.value}: {s.outcome_reason}"
        for key, s in final.items()
        if s.state is not SigningState.COMPLETED
    }
    assert not failed, f"not completed: {failed}"
    # The chaos really happened (and the replays reached the receiver; the completions above
    # show none of them decided anything).
    assert log.replays_answered >= 1, log.notes
    assert log.kills >= MIN_KILLS, f"only {log.kills} worker kills"
    assert log.temporal_restarts == 1
    assert faults["core_signature"]["injected"], faults["core_signature"]
    # Every 7th call is throttled, so a simulator called that often must have injected faults.
    quiet = [
        name
        for name, f in faults.items()
        if f["calls"] >= VENDOR_FAULTS["rate_limit_every"] and not f["injected"]
    ]
    assert not quiet, f"no fault injected by {quiet}: {faults}"

    # Workspaces: every account's newest name reached its one workspace, nothing lost.
    assert synced == {bo_id: f"Chaos {bo_id} v{RENAMES + 1}" for bo_id in accounts}, synced
    for bo_id in accounts:
        bound = [w for w in workspaces["results"] if w["business_object_id"] == bo_id]
        assert len(bound) == 1, f"workspaces for {bo_id}: {bound}"

    # Core Signature: exactly one signature request per process, never a second cycle.
    counts: dict[str, int] = requests["count_by_external_id"]
    wrong_requests = {
        key: {eid: n for eid, n in counts.items() if eid.startswith(f"{key}#")}
        for key in keys
        if counts.get(f"{key}#1") != 1 or f"{key}#2" in counts
    }
    assert not wrong_requests, f"signature requests per process: {wrong_requests}"

    # Content Server: the signed PDF and the audit trail created once each per process (a
    # retry that finds its document is refused as a duplicate name, which is fine), and one
    # workspace for the customer, however many processes raced to create it.
    created: Counter[str] = Counter()
    for upload in uploads["results"]:
        created[upload["name"]] += upload["created"]
    expected = {
        f"{key} - contract ({kind}).pdf" for key in keys for kind in ("signed", "audit trail")
    }
    wrong_uploads = {name: created[name] for name in expected if created[name] != 1}
    assert not wrong_uploads, f"documents created per name: {wrong_uploads}"
    extra = sorted(n for n in created if n not in expected and n.startswith(f"CHAOS-{batch}"))
    assert not extra, f"unexpected documents: {extra}"
    versions = [u for u in uploads["results"] if u["versions_added"]]
    assert not versions, f"documents got new versions: {versions}"
    bound = [w for w in workspaces["results"] if w["business_object_id"] == WORKSPACE_BO_ID]
    assert len(bound) == 1, f"workspaces for {WORKSPACE_BO_ID}: {bound}"

    # CRM: one stored report per process, "completed" (redeliveries collapse by webhook-id).
    by_key: dict[str, int] = reports["by_business_key"]
    wrong_reports = {key: by_key.get(key, 0) for key in keys if by_key.get(key, 0) != 1}
    assert not wrong_reports, f"stored CRM reports per process: {wrong_reports}"
    outcomes = {
        r["payload"]["business_key"]: r["payload"]["outcome"]
        for r in reports["results"]
        if r["payload"].get("business_key") in log.finished_s
    }
    assert set(outcomes.values()) == {"completed"}, outcomes

    _assert_content(items, content, back_at)


# ------------------------------------------------------------------ the accounts
ACCOUNTS = 4
RENAMES = 4


async def _drive_account(
    http: httpx.AsyncClient, stack: EmbeddedStack, bo_id: str, delay: float
) -> None:
    """Create an account in the CRM, then rename it a few times while the chaos lasts."""
    await asyncio.sleep(delay)
    fields = {"name": f"Chaos {bo_id} v1", "account_number": bo_id, "owner": "bob@example.com"}
    created = await http.post(
        f"{stack.crm_url}/_control/objects/Account", json={"bo_id": bo_id, "fields": fields}
    )
    assert created.status_code == 201, created.text
    for version in range(2, RENAMES + 2):
        await asyncio.sleep(CHAOS_S / (RENAMES + 1))
        renamed = await http.patch(
            f"{stack.crm_url}/_control/objects/Account/{bo_id}",
            json={"fields": {"name": f"Chaos {bo_id} v{version}"}},
        )
        assert renamed.status_code == 200, renamed.text


async def _accounts_synced(
    api: DocflowApiClient, http: httpx.AsyncClient, stack: EmbeddedStack, accounts: list[str]
) -> dict[str, str]:
    """Each account's workspace name attribute once its process applied the last rename
    (or what it has when the settle time is up)."""
    deadline = time.monotonic() + SETTLE_S
    names: dict[str, str] = {}
    assert stack.client is not None
    for bo_id in accounts:
        path = f"/v1/business-objects/SFDC/Account/{bo_id}"
        status: dict[str, Any] = {}
        polls = 0
        while time.monotonic() < deadline:
            try:
                status = await api.call("GET", path)
            except DocflowApiError:
                status = {}
            if status.get("applied_version") == RENAMES + 1:
                break
            polls += 1
            if polls % 10 == 0:
                # As support would once the faults are over: a step still waiting out a long
                # backoff (attempts piled up while workers died) runs now.
                await _retry_steps_now(
                    stack.client, business_object_workflow_id("SFDC", "Account", bo_id)
                )
            await asyncio.sleep(0.5)
        workspace = (status.get("workspace") or {}).get("workspace_id")
        if workspace is None:
            names[bo_id] = f"(no workspace: {status.get('state')})"
            continue
        node = await get_json(http, f"{stack.content_server_url}/_control/nodes/{workspace}")
        values = {v for cat in node["categories"] for v in cat.values() if isinstance(v, str)}
        names[bo_id] = next((v for v in values if v.startswith("Chaos ")), str(values))
    return names


# ------------------------------------------------------------------ the content items
CONTENT_ITEMS = 4
DOWN, DOWN_TARGET = "b2b-network", "B2B_NETWORK"  # its webhook-target endpoint, its target
CONTENT_ENDPOINTS = {
    "partner-portal",
    "erp-catalogue",
    "b2b-network",
    "supplier-portal",
    "order-management",
}
PRODUCT_SCHEMA = "https://schema.docflow.example/product.json"
APPROVED_STATE, DISTRIBUTED_STATE = "5f1a0c1e2b3c4d5e6f700002", "5f1a0c1e2b3c4d5e6f700003"
OPS_KEY = {"X-API-Key": "dev-ops-key"}


@dataclass
class ContentCase:
    """One Amplience item: the versions the content team approved, what became of them."""

    number: int
    id: str = ""
    approved: list[int] = field(default_factory=list)
    again: int = 0  # approved again after the chaos: the newest approval's webhook was lost
    retries: int = 0  # operator retries of the failed targets (POST .../retries) answered 202
    failed_down: bool = False  # some version failed at the target that was down
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def twice(self) -> bool:
        return self.number % 2 == 1


@dataclass
class ContentOutcome:
    stored: list[dict[str, Any]]  # what the webhook target stored (each webhook-id once)
    duplicates: int  # redeliveries the target collapsed by webhook-id
    amplience: dict[str, dict[str, Any]]  # the items as Amplience has them at the end
    settle_s: float  # from the signings' end until every item was distributed and reported


async def _control_post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
    response = await http.post(url, json=body)
    response.raise_for_status()
    return response.json()


async def _approve_content(http: httpx.AsyncClient, amp: str, case: ContentCase) -> None:
    moved = await _control_post(
        http, f"{amp}/_control/items/{case.id}/workflow", {"state": "Approved"}
    )
    case.approved.append(moved["version"])


async def _drive_content(
    http: httpx.AsyncClient, stack: EmbeddedStack, case: ContentCase, delay: float
) -> None:
    """Create a product in Amplience and approve it; every other one is edited and approved
    again a few seconds later (the newer version supersedes the failing one)."""
    amp = stack.amplience_url
    body = {
        "_meta": {"schema": PRODUCT_SCHEMA},
        "sku": f"CHAOS-{uuid.uuid4().hex[:6]}",
        "title": "Chaos boot",
        "price": 120.0,
        "currency": "EUR",
    }
    seeded = await _control_post(
        http,
        f"{amp}/_control/items",
        {"label": f"Chaos boot {case.number}", "body": body, "workflow_state": "Draft"},
    )
    case.id = seeded["id"]
    await asyncio.sleep(delay)
    await _approve_content(http, amp, case)
    if case.twice:
        await asyncio.sleep(3)
        edited = {**body, "title": "Chaos boot, edited"}
        await _control_post(http, f"{amp}/_control/items/{case.id}/edit", {"body": edited})
        await _approve_content(http, amp, case)


async def _content_settled(
    http: httpx.AsyncClient, stack: EmbeddedStack, items: list[ContentCase], log: ChaosLog
) -> ContentOutcome:
    """Once the target is back: every item distributed at its newest approved version, an
    operator retrying the failed targets as support would. Amplience sends a webhook once: an
    approval answered 503 while the dev server was away is lost, and the content team's next
    approval is what brings the item back (the receiver's documented recovery)."""
    amp = stack.amplience_url
    began = time.monotonic()
    assert (await _control_post(http, f"{amp}/_control/webhooks/flush?timeout_s=15", {}))["idle"]
    for case in items:
        while True:
            events = await get_json(http, f"{amp}/_control/webhook-events?item_id={case.id}")
            newest = next(
                e["id"]
                for e in reversed(events["results"])
                if e["payload"].get("workflow", {}).get("state") == APPROVED_STATE
                and e["payload"]["version"] == case.approved[-1]
            )
            sent = await get_json(http, f"{amp}/_control/webhooks?item_id={case.id}")
            answers = [d["last_status_code"] for d in sent["results"] if d["event_id"] == newest]
            if 200 in answers:
                break
            log.notes.append(f"content {case.id} v{case.approved[-1]}: webhook lost ({answers})")
            case.again += 1
            await _approve_content(http, amp, case)
            await _control_post(http, f"{amp}/_control/webhooks/flush?timeout_s=15", {})

    deadline = time.monotonic() + SETTLE_S
    retried_at: dict[str, float] = {}
    pending = list(items)
    while pending:
        for case in list(pending):
            response = await http.get(
                f"{stack.api_url}/v1/content/items/{case.id}", headers=OPS_KEY
            )
            if response.status_code != 200:
                continue
            case.status = status = response.json()
            if any(
                d["target"] == DOWN_TARGET and d["status"] == "failed" for d in status["deliveries"]
            ):
                case.failed_down = True
            if (
                status["state"] == "distributed"
                and status["distributed_version"] == case.approved[-1]
            ):
                pending.remove(case)
            elif status["state"] == "integration_failed" and (
                time.monotonic() - retried_at.get(case.id, 0.0) > 2
            ):
                retried_at[case.id] = time.monotonic()
                retry = await http.post(
                    f"{stack.api_url}/v1/content/items/{case.id}/retries",
                    json={"comment": "B2B network back"},
                    headers=OPS_KEY,
                )
                assert retry.status_code in (202, 409, 503), retry.text
                case.retries += retry.status_code == 202
        if pending and time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    stored = await get_json(http, f"{stack.webhook_target_url}/_control/deliveries")
    amplience: dict[str, dict[str, Any]] = {}
    for case in items:
        # The loop closes in Amplience: the item moves to Distributed (reported best effort).
        while time.monotonic() < deadline:
            found = await get_json(http, f"{amp}/_control/items")
            amplience[case.id] = next(i for i in found["results"] if i["id"] == case.id)
            if amplience[case.id]["workflow"]["state"] == DISTRIBUTED_STATE:
                break
            await asyncio.sleep(0.5)
    settle_s = time.monotonic() - began
    return ContentOutcome(stored["results"], stored["duplicates"], amplience, settle_s)


def _assert_content(items: list[ContentCase], content: ContentOutcome, back_at: datetime) -> None:
    """Every item reached every target and channel once, at its newest approved version; the
    target that was down got it only after it came back; the others were not held back."""
    summary = {
        case.id: {
            "approved": case.approved,
            "state": case.status.get("state"),
            "distributed": case.status.get("distributed_version"),
            "again": case.again,
            "retries": case.retries,
        }
        for case in items
    }
    print(
        f"content: {summary}; target redeliveries collapsed by webhook-id: "
        f"{content.duplicates}; settled {content.settle_s:.1f} s after the signings"
    )
    for case in items:
        newest, status = case.approved[-1], case.status
        where = f"content {case.id} {summary[case.id]}"
        assert status.get("state") == "distributed", where
        assert status["distributed_version"] == newest, where
        got = {
            endpoint: [
                m
                for m in content.stored
                if m["endpoint"] == endpoint
                and m["payload"]["data"]["item_id"] == case.id
                and m["payload"]["data"]["version"] == newest
            ]
            for endpoint in CONTENT_ENDPOINTS
        }
        once = {endpoint: len(found) for endpoint, found in got.items()}
        assert once == dict.fromkeys(CONTENT_ENDPOINTS, 1), f"{where}: stored {once}"
        [late] = got[DOWN]
        assert datetime.fromisoformat(late["received_at"]) >= back_at, where
        # Not held back: the other targets and channels took the version in the first round,
        # before any operator retry; only the target that was down needed one.
        mine = [d for d in status["deliveries"] if d["version"] == newest]
        others = {d["target"]: d for d in mine if d["target"] != DOWN_TARGET}
        assert len(others) == len(CONTENT_ENDPOINTS) - 1, f"{where}: {mine}"
        assert {(d["status"], d["round"]) for d in others.values()} == {("delivered", 1)}, mine
        assert content.amplience[case.id]["workflow"]["state"] == DISTRIBUTED_STATE, where
    # The target really was down while the items were approved.
    assert sum(case.failed_down for case in items) >= 1, summary
    assert sum(case.retries for case in items) >= 1, summary


# ------------------------------------------------------------------ the batch
class _Replayer:
    """Posts a replayed `declined` (valid hash, old event time) for one process's document."""

    def __init__(self, stack: EmbeddedStack, http: httpx.AsyncClient, log: ChaosLog) -> None:
        settings = stack.settings
        self.key = settings.secret(settings.core_signature.event_hash_key).encode()
        self.url = f"{stack.api_url}/webhooks/core-signature"
        self.http, self.log = http, log

    async def __call__(self, api: DocflowApiClient, business_key: str) -> None:
        deadline = time.monotonic() + CHAOS_MAX_S
        document_uuid = None
        while document_uuid is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            try:
                document_uuid = (await api.status(business_key)).signature.document_uuid
            except DocflowApiError as err:
                if err.status not in (404, 503):
                    raise
        if document_uuid is None:
            self.log.notes.append(f"{business_key}: never had a document to replay against")
            return
        event_time = str(int(time.time()) - 2 * 60 * 60)
        digest = hmac.new(self.key, f"{event_time}declined".encode(), "sha256").hexdigest()
        body = {
            "uuid": str(uuid.uuid4()),
            "status": "ok",
            "event_type": "declined",
            "event_time": event_time,
            "event_hash": digest,
            "timestamp": "2026-11-29T10:00:00Z",
            "document": {"uuid": document_uuid, "external_id": f"{business_key}#1"},
            "signer": {"email": "mallory@example.com", "message": "replayed"},
        }
        for _ in range(20):  # like Core Signature: a 500 (Temporal away) is sent again
            try:
                response = await self.http.post(self.url, json=body)
            except httpx.HTTPError:
                await asyncio.sleep(1)
                continue
            if response.status_code == 200:
                self.log.replays_answered += 1
                return
            assert response.status_code in (500, 503), response.text
            await asyncio.sleep(1)
        self.log.notes.append(f"{business_key}: the replay was never taken")


async def _drive(
    api: DocflowApiClient,
    http: httpx.AsyncClient,
    key: str,
    with_approval: bool,
    delay: float,
    log: ChaosLog,
) -> None:
    """Start one process over HTTP and, if it has an approval stage, approve it as alice."""
    await asyncio.sleep(delay)
    stages = [legal()] if with_approval else []
    document_type = "sales_contract" if stages else "nda"
    request = sample_request(key, stages=stages, document_type=document_type)
    await _available(lambda: api.start(request, contract_pdf(key)), "start", log)
    if not with_approval:
        return
    deadline = time.monotonic() + CHAOS_MAX_S + 120
    refused = 0
    while True:
        status = await _available(lambda: api.status(key), "status", log)
        assert status.state not in TERMINAL_STATES, f"{key} ended: {status.outcome_reason}"
        assert time.monotonic() < deadline, f"{key} stuck in {status.state}: {status.waiting_for}"
        if status.state is not SigningState.AWAITING_APPROVAL:
            await asyncio.sleep(0.25)
            continue
        # A decision may be applied and still answered 503 (the server went away mid-call):
        # the Idempotency-Key makes the retry return that same decision instead of a 409.
        try:
            approve = partial(_approve, http, api.base_url, key, f"approve-{key}-{refused}")
            decision = await _available(approve, "decide", log)
        except DocflowApiError as err:
            # Seen once in a long run around the dev-server restart: the status said
            # awaiting_approval, the decision then found the process still validating.
            if err.status != 409 or "(process is validating)" not in err.message:
                raise
            log.notes.append(f"{key}: status said awaiting_approval, then decision got {err}")
            refused += 1
            continue
        assert decision["stage"] == "legal", decision
        return


async def _approve(
    http: httpx.AsyncClient, api_url: str, key: str, idempotency_key: str
) -> dict[str, Any]:
    """Approve as alice over HTTP (DocflowApiClient.decide sends no Idempotency-Key)."""
    response = await http.post(
        f"{api_url}/v1/signing-processes/{key}/decisions",
        json={"decision": "approve", "comment": "chaos"},
        headers={
            "X-API-Key": APPROVER_KEYS["alice@example.com"],
            "Idempotency-Key": idempotency_key,
        },
    )
    if response.status_code >= 400:
        raise DocflowApiError(response.status_code, response.text[:300])
    body: dict[str, Any] = response.json()
    return body


async def _wait_all_ended(
    api: DocflowApiClient, keys: list[str], log: ChaosLog
) -> dict[str, SigningStatus]:
    """The last status of every process, once all have ended or SETTLE_S has passed."""
    deadline = time.monotonic() + SETTLE_S
    last: dict[str, SigningStatus] = {}
    polling = asyncio.Semaphore(8)

    async def poll(key: str) -> None:
        async with polling:
            try:
                status = await api.status(key)
            except DocflowApiError as err:
                if err.status != 503:
                    raise
                log.api_unavailable["status"] += 1
                return
        last[key] = status
        if status.state in TERMINAL_STATES:
            log.finished_s[key] = time.monotonic() - log.began

    while True:
        await asyncio.gather(*(poll(key) for key in keys if key not in log.finished_s))
        if len(log.finished_s) == len(keys) or time.monotonic() > deadline:
            return last
        await asyncio.sleep(0.5)


async def _available(call: Callable[[], Awaitable[T]], what: str, log: ChaosLog) -> T:
    """The API's contract while Temporal cannot answer: 503 with Retry-After, so retry (a
    process may not answer queries for as long as the chaos lasts)."""
    deadline = time.monotonic() + CHAOS_MAX_S + 90
    while True:
        try:
            return await call()
        except DocflowApiError as err:
            if err.status != 503 or time.monotonic() > deadline:
                raise
            log.api_unavailable[what] += 1
        await asyncio.sleep(0.5)


# ------------------------------------------------------------------ the chaos
async def _chaos(
    stack: EmbeddedStack,
    rng: random.Random,
    log: ChaosLog,
    reported: Callable[[], Awaitable[int]],
) -> None:
    """SIGKILL each worker 2-3 s after it starts polling and start a new one; restart the dev
    server once, midway, on its SQLite file (the API and the worker must reconnect alone)."""
    began = time.monotonic()
    restart_at = began + CHAOS_S / 2

    async def going_on() -> bool:
        elapsed = time.monotonic() - began
        if elapsed < CHAOS_S or log.kills < MIN_KILLS:
            return True
        return elapsed < CHAOS_MAX_S and await reported() < CHAOS_UNTIL_REPORTED

    while await going_on():
        await _worker_polling(stack, log.kills + 1, log)
        await asyncio.sleep(rng.uniform(*KILL_AFTER_S))
        if log.temporal_restarts == 0 and time.monotonic() >= restart_at:
            restarting = time.monotonic()
            await stack.restart_temporal()
            log.temporal_restarts += 1
            log.temporal_restart_s = time.monotonic() - restarting
        worker = stack.worker_process
        assert worker is not None
        assert worker.returncode is None, f"worker {log.kills + 1} exited ({worker.returncode})"
        await stack.kill_worker()
        log.kills += 1
        await stack.start_worker()
    log.chaos_s = time.monotonic() - began
    await _worker_polling(stack, log.kills + 1, log)


async def _worker_polling(stack: EmbeddedStack, workers: int, log: ChaosLog) -> None:
    """Wait until the `workers`-th worker process of this stack has started polling."""
    waiting = time.monotonic()
    worker_log = stack.data_dir / "worker.log"
    while worker_log.read_text(errors="replace").count(WORKER_POLLING) < workers:
        assert time.monotonic() - waiting < 60, f"worker {workers} does not poll; see {worker_log}"
        await asyncio.sleep(0.05)
    log.worker_startup_s.append(time.monotonic() - waiting)


# ------------------------------------------------------------------ evidence
async def _lost_attempts(client: Client, keys: list[str]) -> Counter[str]:
    """From the histories: activities whose last failed attempt timed out (a killed worker's),
    and workflow tasks that timed out or failed."""
    found: Counter[str] = Counter()
    for key in keys:
        scheduled: dict[int, str] = {}
        handle = client.get_workflow_handle(signing_workflow_id(key))
        async for event in handle.fetch_history_events():
            if event.HasField("activity_task_scheduled_event_attributes"):
                attrs = event.activity_task_scheduled_event_attributes
                scheduled[event.event_id] = attrs.activity_type.name
            elif event.HasField("activity_task_started_event_attributes"):
                started = event.activity_task_started_event_attributes
                if started.last_failure.HasField("timeout_failure_info"):
                    found[f"{scheduled[started.scheduled_event_id]} timed out"] += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                found["workflow task timed out"] += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure.message
                found[f"workflow task failed: {failure[:120]}"] += 1
    return found


async def _retry_steps_now(client: Client, workflow_id: str) -> None:
    """Temporal's activity reset for every pending activity past its first attempt."""
    described = await client.get_workflow_handle(workflow_id).describe()
    for pending in described.raw_description.pending_activities:
        if pending.attempt > 1:
            await client.workflow_service.reset_activity(
                ResetActivityRequest(
                    namespace=client.namespace,
                    execution=WorkflowExecutionRef(workflow_id=workflow_id),
                    id=pending.activity_id,
                    identity="chaos-test:support",
                )
            )


async def _pending_activities(client: Client, keys: list[str]) -> dict[str, list[str]]:
    """What an unfinished process waits for: its pending activities with their last failure."""
    found: dict[str, list[str]] = {}
    for key in keys:
        described = await client.get_workflow_handle(signing_workflow_id(key)).describe()
        found[key] = [
            f"{a.activity_type.name} attempt {a.attempt} "
            f"({PendingActivityState.Name(a.state)}): {a.last_failure.message[:160]}"
            for a in described.raw_description.pending_activities
        ]
    return found


async def _keep_histories(client: Client, keys: list[str]) -> str:
    """Write the histories of unfinished processes where they outlive the test (replayable
    with `temporalio.worker.Replayer`, or the Web UI's import)."""
    kept = Path(os.environ.get("DOCFLOW_CHAOS_KEEP") or tempfile.mkdtemp(prefix="chaos-"))
    histories = {
        key: (await client.get_workflow_handle(signing_workflow_id(key)).fetch_history()).to_json()
        for key in keys
    }
    kept.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test's last words
    for key, history in histories.items():
        (kept / f"{key}.json").write_text(history)
    return str(kept)


def _summary(
    log: ChaosLog,
    final: dict[str, SigningStatus],
    faults: dict[str, Any],
    requests: dict[str, Any],
    uploads: dict[str, Any],
    reports: dict[str, Any],
    lost: Counter[str],
) -> str:
    injected = {
        name: f"{len(f['injected'])} of {f['calls']} calls "
        f"{dict(Counter(i['status'] for i in f['injected']))}"
        for name, f in faults.items()
    }
    finished = sorted(round(s) for s in log.finished_s.values())
    states = dict(Counter(s.state.value for s in final.values()))
    startup = log.worker_startup_s or [0.0]
    return (
        f"\nchaos: {SIZE} processes {states}, chaos for {log.chaos_s:.0f} s, last ended after "
        f"{max(finished, default=0)} s; {log.kills} worker kills (startup "
        f"{min(startup):.1f}-{max(startup):.1f} s); dev server restarted "
        f"{log.temporal_restarts}x in {log.temporal_restart_s:.1f} s; "
        f"API 503s retried: {dict(log.api_unavailable)}\n"
        f"faults injected during the chaos: {injected}\n"
        f"duplicates refused/collapsed: Core Signature requests "
        f"{sum(requests['rejected_duplicates_by_external_id'].values())}, Content Server "
        f"uploads {sum(u['rejected_duplicates'] for u in uploads['results'])}, CRM reports "
        f"{reports['duplicates']}\n"
        f"lost attempts in the histories: {dict(lost)}\n"
        f"ended after (s): {finished}\n" + "".join(f"{note}\n" for note in log.notes)
    )


# ------------------------------------------------------------------ helpers
async def _reported(http: httpx.AsyncClient, stack: EmbeddedStack, batch: str) -> int:
    """How many processes of this batch the CRM has a report of."""
    reports = await get_json(http, f"{stack.crm_url}/_control/reports")
    return sum(1 for key in reports["by_business_key"] if key.startswith(f"CHAOS-{batch}-"))


def _sims(stack: EmbeddedStack) -> list[tuple[str, str]]:
    return [
        ("core_signature", stack.core_signature_url),
        ("content_server", stack.content_server_url),
        ("crm", stack.crm_url),
    ]


async def _set_faults(
    http: httpx.AsyncClient, stack: EmbeddedStack, vendors: dict[str, Any], crm: dict[str, Any]
) -> None:
    for name, url in _sims(stack):
        await put_json(http, f"{url}/_control/faults", crm if name == "crm" else vendors)
