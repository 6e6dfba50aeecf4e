"""Webhook storm: signed callbacks for many processes, 1-3 copies each, shuffled, early and late,
mixed with forged, malformed and replayed ones; every event applies once, refusals never
signal, and a replayed terminal claim (a correctly hashed callback of another time, claiming
the opposite outcome) never changes an outcome: Core Signature's own status decides. A cancel
racing the signed callback is refused, and the signed document archived.

`DOCFLOW_STORM_SIZE=300 uv run pytest tests/faults/webhook_storm_test.py` (or `--storm-size`
when pytest is pointed at tests/faults) runs the long version; DOCFLOW_STORM_SEED reshuffles.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from docflow.models import SigningState, SigningStatus
from docflow.models.events import ERROR_EVENTS, TERMINAL_EVENTS, SignatureEventType
from docflow.models.status import TERMINAL_STATES
from tests.faults.conftest import ALICE_KEY, CRM_KEY, OPS_KEY, SigningApi
from tests.workflows.conftest import VendorTruth

SEED = int(os.environ.get("DOCFLOW_STORM_SEED", "20261123"))
RECEIVER = "/webhooks/core-signature"
CONCURRENCY = 24
SENDER_ATTEMPTS = 10
CORRECTED_SIGNER = "sam.signer@acme.example.com"
REFUSED = {"forged": 401, "tampered": 401, "unsigned": 401}
# Correctly hashed, harmful claims of another time: hints, answered 200, confirmed and refuted.
REPLAYED = ("stale-replay", "future-replay")
MALFORMED = ("not-json", "no-document", "bad-time", "empty-uuid", "signer-not-object")


@dataclass(frozen=True)
class Script:
    """What Core Signature reports for one process, per signature cycle, and what people do."""

    name: str
    cycles: tuple[tuple[str, ...], ...]
    expected: SigningState
    approval: bool = False
    action: str | None = None  # approve | reject | correct | cancel | cancel-race, in `act_in`
    act_in: SigningState | None = None
    requests: int | None = None  # signature requests created; default one per cycle

    def deciding(self, cycle: int) -> str | None:
        """The event type that ends the cycle's wait (terminal or error), if any."""
        enders = [
            kind
            for kind in self.cycles[cycle - 1]
            if SignatureEventType(kind) in TERMINAL_EVENTS | ERROR_EVENTS
        ]
        assert len(enders) <= 1, f"{self.name}: ambiguous cycle {cycle}"
        return enders[0] if enders else None


S = SigningState
SCRIPTS = (
    Script("signed", (("sent", "signer_viewed", "signer_signed", "signed"),), S.COMPLETED),
    Script(
        "approved-after-early-events",
        (("sent", "viewed", "signer_signed", "signed"),),
        S.COMPLETED,
        approval=True,
        action="approve",
        act_in=S.AWAITING_APPROVAL,
    ),
    Script("declined", (("sent", "signer_viewed", "declined"),), S.DECLINED),
    Script(
        "rejected-with-early-events",
        (("sent", "viewed"),),
        S.REJECTED,
        approval=True,
        action="reject",
        act_in=S.AWAITING_APPROVAL,
        requests=0,
    ),
    Script(
        "expired-resent-signed",
        (("sent", "expired"), ("sent", "signer_signed", "signed")),
        S.COMPLETED,
    ),
    Script(
        "expired-twice-cancelled",
        (("sent", "expired"), ("sent", "viewed", "expired")),
        S.CANCELLED,
        action="cancel",
        act_in=S.SIGNATURE_EXCEPTION,
    ),
    Script(
        "bounced-corrected",
        (("sent", "signer_email_bounced"), ("sent", "signer_viewed", "signed")),
        S.COMPLETED,
        action="correct",
        act_in=S.SIGNATURE_EXCEPTION,
    ),
    Script("cancelled-in-core-signature", (("sent", "cancelled"),), S.CANCELLED),
    Script(
        "signed-while-cancelled",
        (("sent", "signer_viewed", "signer_signed", "signed"),),
        S.COMPLETED,
        action="cancel-race",
        act_in=S.AWAITING_SIGNATURE,
    ),
)

# What each deciding event leaves the document's status at, in Core Signature.
STATUS_AFTER = {
    "signed": "si",
    "declined": "de",
    "cancelled": "ca",
    "expired": "xp",
    "convert_error": "ec",
    "sending_error": "es",
}


@dataclass
class Post:
    """One HTTP request to the receiver and what it got back."""

    kind: str  # valid, a key of REFUSED, malformed, unknown
    key: str | None
    content: bytes
    event_id: str | None
    expected: int
    status: int | None = None
    answer: dict[str, Any] = field(default_factory=dict)
    retries: int = 0  # answered 500 (not taken in time) and sent again, as the vendor does


@dataclass
class Process:
    key: str
    script: Script
    valid_ids: set[str] = field(default_factory=set)
    deciding_ids: set[str] = field(default_factory=set)
    valid_posts: list[Post] = field(default_factory=list)
    replay_ids: set[str] = field(default_factory=set)
    held: list[Post] = field(default_factory=list)  # sent by `act` (the race), not the storm
    cancel_answer: str = ""


class Storm:
    """Builds the callbacks, as Core Signature (and impostors) would send them."""

    def __init__(self, api: SigningApi, rng: random.Random) -> None:
        self.api = api
        self.rng = rng
        self.now = str(int(time.time()))

    def body(
        self,
        key: str,
        cycle: int,
        event_type: str,
        *,
        event_time: str | None = None,
        hash_key: bytes | None = None,
        signed_type: str | None = None,
    ) -> dict[str, Any]:
        sent_at = event_time or self.now
        external_id = f"{key}#{cycle}"
        signer = None
        if event_type.startswith("signer_") or event_type == "declined":
            message = "wrong price" if event_type == "declined" else None
            signer = {"email": "signer@acme.example.com", "message": message}
        return {
            "uuid": str(uuid.uuid4()),
            "status": "error" if SignatureEventType(event_type) in ERROR_EVENTS else "ok",
            "event_type": event_type,
            "event_time": sent_at,
            "event_hash": self.api.sign(sent_at, signed_type or event_type, hash_key),
            "timestamp": sent_at,
            "document": {"uuid": f"doc-{external_id}", "external_id": external_id},
            "signer": signer,
        }

    def valid(self, process: Process) -> list[Post]:
        """Every event of the script, 1-3 copies; what Core Signature holds goes to `truth`."""
        posts = []
        script = process.script
        for cycle, kinds in enumerate(script.cycles, start=1):
            truth = VendorTruth(status="se")
            self.api.systems.truth[f"doc-{process.key}#{cycle}"] = truth
            for kind in kinds:
                body = self.body(process.key, cycle, kind)
                process.valid_ids.add(body["uuid"])
                truth.event_ids.add(body["uuid"])
                copies = [
                    self.post("valid", process.key, body, 200)
                    for _ in range(self.rng.randint(1, 3))
                ]
                if kind == script.deciding(cycle):
                    process.deciding_ids.add(body["uuid"])
                    truth.status = STATUS_AFTER.get(kind, truth.status)
                    if kind == "declined":
                        truth.decliner, truth.reason = "signer@acme.example.com", "wrong price"
                    if script.action == "cancel-race":
                        process.held = copies[:1]  # `act` sends it, racing the cancel
                        continue
                posts += copies
        process.valid_posts = posts + process.held
        return posts

    def replayed(self, process: Process, kind: str) -> Post:
        """A captured callback of another time, re-aimed at this process, claiming the
        outcome that would do harm: its hash is right (it covers only time and type)."""
        harmful = "declined" if process.script.expected is S.COMPLETED else "signed"
        at = str(int(self.now) + (60 * 60 if kind == "future-replay" else -3 * 60 * 60))
        body = self.body(process.key, 1, harmful, event_time=at)
        process.replay_ids.add(body["uuid"])
        return self.post("replayed", process.key, body, 200)

    def refused(self, process: Process, kind: str) -> Post:
        """A callback that would change the outcome if it got through."""
        harmful = "declined" if process.script.expected is S.COMPLETED else "signed"
        body = {
            "forged": lambda: self.body(process.key, 1, harmful, hash_key=b"not-the-key"),
            "tampered": lambda: self.body(process.key, 1, harmful, signed_type="signer_viewed"),
            "unsigned": lambda: {**self.body(process.key, 1, harmful), "event_hash": None},
        }[kind]()
        return self.post(kind, process.key, body, REFUSED[kind])

    def malformed(self, process: Process, shape: str) -> Post:
        body = self.body(process.key, 1, "signed")
        if shape == "not-json":
            return Post("malformed", process.key, b'{"uuid": "x", "event_type": ', None, 422)
        if shape == "no-document":
            del body["document"]
        elif shape == "bad-time":
            body["event_time"] = "yesterday"
        elif shape == "empty-uuid":
            body["uuid"] = ""
        elif shape == "signer-not-object":
            body["signer"] = "signer@acme.example.com"
        return self.post("malformed", process.key, body, 422)

    def unknown(self, external_id: str) -> Post:
        body = self.body("ignored", 1, "signed")
        body["document"] = {"uuid": f"doc-{external_id}", "external_id": external_id}
        return self.post("unknown", None, body, 404)

    @staticmethod
    def post(kind: str, key: str | None, body: dict[str, Any], expected: int) -> Post:
        return Post(kind, key, json.dumps(body).encode(), body.get("uuid"), expected)


async def send(http: httpx.AsyncClient, url: str, posts: list[Post]) -> None:
    """POST every body concurrently (bounded), recording each answer. Like Core Signature, a
    500 (docflow could not take the event within its deadline) is sent again a little later."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(post: Post) -> None:
        for _ in range(SENDER_ATTEMPTS):
            async with gate:
                response = await http.post(
                    url + RECEIVER,
                    content=post.content,
                    headers={"content-type": "application/json"},
                )
            post.status, post.answer = response.status_code, response.json()
            if response.status_code != 500:
                return
            post.retries += 1
            await asyncio.sleep(0.5)

    await asyncio.gather(*(one(post) for post in posts))


async def status_of(api: SigningApi, key: str) -> SigningStatus:
    handle = api.client.get_workflow_handle(f"signing-{key}")
    return await handle.query("status", result_type=SigningStatus)


async def act(api: SigningApi, http: httpx.AsyncClient, process: Process, within: float) -> None:
    """Play the person of the script once the process waits for them (for the race: the
    application cancels while Core Signature's `signed` callback is on its way)."""
    script = process.script
    if script.action is None:
        return
    deadline = asyncio.get_running_loop().time() + within
    while (status := await status_of(api, process.key)).state is not script.act_in:
        where = f"{process.key} ({script.name}) is {status.state.value}: {status.outcome_reason}"
        assert status.state not in TERMINAL_STATES, f"{where}; expected {script.act_in}"
        assert asyncio.get_running_loop().time() < deadline, f"{where}; never {script.act_in}"
        await asyncio.sleep(0.1)
    base = f"{api.url}/v1/signing-processes/{process.key}"
    if script.action in ("approve", "reject"):
        response = await http.post(
            f"{base}/decisions", json={"decision": script.action}, headers=ALICE_KEY
        )
    elif script.action == "cancel-race":
        cancel = http.post(f"{base}/cancel", json={"reason": "deal lost"}, headers=CRM_KEY)
        response, _ = await asyncio.gather(cancel, send(http, api.url, process.held))
        # Refused (the document is signed: by the process, or already by its validator once
        # the signature was applied), or still waiting for Core Signature's answer.
        refused = response.status_code == 409 and "signed" in response.text
        pending = response.status_code == 200 and "cancelling" in response.text
        assert refused or pending, response.text
        process.cancel_answer = response.text
        return
    elif script.action == "correct":
        body = {"signers": [{"email": CORRECTED_SIGNER}], "comment": "address bounced"}
        response = await http.post(f"{base}/corrections", json=body, headers=OPS_KEY)
    else:
        response = await http.post(f"{base}/cancel", json={"reason": "deal lost"}, headers=CRM_KEY)
    assert response.status_code == 200, response.text


async def test_webhook_storm(
    signing_api: SigningApi, http: httpx.AsyncClient, storm_size: int
) -> None:
    api = signing_api
    rng = random.Random(SEED)
    run = uuid.uuid4().hex[:6]
    processes = [
        Process(f"STORM-{run}-{i:04d}", SCRIPTS[i % len(SCRIPTS)]) for i in range(storm_size)
    ]
    started = await asyncio.gather(
        *(
            http.post(
                f"{api.url}/v1/signing-processes",
                json=api.start_body(p.key, approval=p.script.approval),
                headers=CRM_KEY,
            )
            for p in processes
        )
    )
    assert [r.status_code for r in started] == [201] * storm_size, started[0].text
    # A callback can only exist once its document does: the storm begins once every process
    # sent its first request (or waits for approval, callbacks racing ahead by one cycle).
    ready = {S.AWAITING_SIGNATURE, S.AWAITING_APPROVAL}
    for p in processes:
        while (await status_of(api, p.key)).state not in ready:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    # The storm: every event 1-3 times, shuffled, while approvals are still open and before
    # later cycles exist; refused and malformed callbacks aimed at the same processes.
    storm = Storm(api, rng)
    posts = [post for p in processes for post in storm.valid(p)]
    posts += [storm.refused(p, rng.choice(list(REFUSED))) for p in processes]
    posts += [storm.refused(rng.choice(processes), kind) for kind in REFUSED]
    # (Not at the race: a replay would be confirmed as the signature before the cancel.)
    racing = [p for p in processes if p.script.action == "cancel-race"]
    posts += [storm.replayed(p, rng.choice(REPLAYED)) for p in processes if p not in racing]
    posts += [storm.malformed(rng.choice(processes), shape) for shape in MALFORMED * 2]
    posts += [storm.unknown(f"NOPE-{run}-{i}#1") for i in range(3)]
    posts += [storm.unknown("not-an-external-id")]
    rng.shuffle(posts)
    await send(http, api.url, posts)

    # Generous for the long version on a busy machine; the default size needs seconds.
    within = 30 + storm_size / 4
    await asyncio.gather(*(act(api, http, p, within) for p in processes))
    async with asyncio.timeout(2 * within):
        results = await asyncio.gather(
            *(
                api.client.get_workflow_handle(
                    f"signing-{p.key}", result_type=SigningStatus
                ).result()
                for p in processes
            )
        )

    # After the end: new events, redeliveries and forgeries for finished processes.
    late = []
    for p in processes:
        late.append(storm.post("valid", p.key, storm.body(p.key, 1, "downloaded"), 200))
        late.append(rng.choice(p.valid_posts))
        late.append(storm.refused(p, "forged"))
    late = [Post(q.kind, q.key, q.content, q.event_id, q.expected) for q in late]
    await send(http, api.url, late)

    everything = posts + late + [q for p in processes for q in p.held]
    wrong = [(q.kind, q.expected, q.status, q.answer) for q in everything if q.status != q.expected]
    assert not wrong, f"{len(wrong)} unexpected answers, e.g. {wrong[:5]}"
    assert {q.answer["status"] for q in everything if q.kind in ("valid", "replayed")} <= {
        "accepted",
        "ignored",
    }
    assert all(q.answer == {"status": "ignored"} for q in late if q.kind == "valid")
    refusals = [q.answer["error"]["code"] for q in everything if q.expected == 401]
    assert set(refusals) == {"invalid_callback"}

    refused_ids = {q.event_id for q in everything if q.kind not in ("valid", "replayed")} - {None}
    accepted = Counter(q.key for q in everything if q.answer.get("status") == "accepted")
    for process, result in zip(processes, results, strict=True):
        script, key = process.script, process.key
        assert result.state is script.expected, f"{key} ({script.name}): {result.outcome_reason}"
        applied = [e.data["event_id"] for e in result.audit if e.kind == "event"]
        touched = applied + [e.data["event_id"] for e in result.audit if e.kind == "event_ignored"]
        assert len(touched) == len(set(touched)), f"{key}: an event was applied twice"
        known = process.valid_ids | process.replay_ids
        assert set(touched) <= known, f"{key}: applied an unknown event"
        # Each deciding event is applied, or a replay was, as what Core Signature reported.
        decided = set(applied) & (process.deciding_ids | process.replay_ids)
        # (At the race the cancel's own status read may learn of the signature first.)
        if script.action != "cancel-race":
            assert len(decided) >= len(script.cycles) - (script.requests == 0), key
        if "cancel refused" in process.cancel_answer:
            assert "cancel_refused" in [e.kind for e in result.audit], key
        if script.action == "reject":
            assert applied == [], f"{key}: events applied although never sent for signature"

        signalled = await api.signals(key)
        # A delivery answered 500 may still have signalled (its retry is then "ignored").
        retried = sum(q.retries for q in everything if q.key == key)
        assert accepted[key] <= len(signalled) <= accepted[key] + retried, key
        assert {e.event_id for e in signalled} <= known
        assert not {e.event_id for e in signalled} & refused_ids

        reports = [r for r in api.systems.reports if r.business_key == key]
        assert [r.outcome.value for r in reports] == [script.expected.value], key
        created = [c for c in api.systems.created if c.external_id.startswith(f"{key}#")]
        assert len(created) == (
            len(script.cycles) if script.requests is None else script.requests
        ), key
        if script.action == "correct":
            assert [str(c.signers[0].email) for c in created][-1] == CORRECTED_SIGNER
        if script.expected is S.DECLINED:
            assert result.outcome_reason == "declined by signer@acme.example.com: wrong price"

    # Something of everything happened, so the assertions above were not vacuous.
    kinds = Counter(q.kind for q in everything)
    assert kinds["malformed"] >= 10 and kinds["unknown"] == 4
    assert all(kinds[kind] >= 1 for kind in REFUSED)
    assert kinds["replayed"] == len(processes) - len(racing)
    refuted = sum(1 for result in results for e in result.audit if e.kind == "event_unconfirmed")
    assert refuted >= 1  # some replay reached a process and was refuted by Core Signature
    assert sum(accepted.values()) > len(processes)
    copies = Counter(q.content for q in posts if q.kind == "valid")
    assert max(copies.values()) >= 2  # duplicates were delivered
