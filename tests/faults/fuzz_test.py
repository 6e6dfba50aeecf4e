"""Generated bad input: the HTTP API fuzzed from its OpenAPI document (schemathesis), the Core
Signature receiver with hypothesis; no 5xx but 503, no process started or signalled by it.

DOCFLOW_FUZZ_EXAMPLES (default 12 per operation and mode, x15 for the receiver) sets the effort.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks
from temporalio.api.enums.v1 import EventType

from docflow.models import SigningState, SigningStatus
from tests.faults.conftest import ALICE_KEY, CRM_KEY, OPS_KEY, SigningApi, signalled_events
from tests.workflows.conftest import VendorTruth

EXAMPLES = int(os.environ.get("DOCFLOW_FUZZ_EXAMPLES", "12"))
# The same examples on every run, so a CI failure reproduces; DOCFLOW_FUZZ_RANDOM=1 explores.
RANDOM = os.environ.get("DOCFLOW_FUZZ_RANDOM") == "1"
RECEIVER = "/webhooks/core-signature"
MAX_CALLBACK_BYTES = 256 * 1024
# The credential holding each route's scope, so that generated requests get past auth.
KEYS = {
    "/v1/documents": CRM_KEY,
    "/v1/signing-processes": CRM_KEY,
    "/v1/signing-processes/{business_key}": CRM_KEY,
    "/v1/signing-processes/{business_key}/decisions": ALICE_KEY,
    "/v1/signing-processes/{business_key}/versions": CRM_KEY,
    "/v1/signing-processes/{business_key}/corrections": OPS_KEY,
    "/v1/signing-processes/{business_key}/cancel": CRM_KEY,
}
UPDATE_ROUTES = {"decisions", "versions", "corrections", "cancel"}
CHECKS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,  # an invalid request must not be accepted
]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not RANDOM,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Exchange:
    """One generated request and its answer."""

    method: str
    route: str
    business_key: str | None
    status: int
    body: Any
    headers: dict[str, str]
    findings: list[str] = field(default_factory=list)

    @property
    def error(self) -> tuple[int, str, str] | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return (self.status, error["code"], error["message"]) if error else None


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


# ------------------------------------------------------------- schemathesis
def run_schemathesis(api: SigningApi, targets: list[str]) -> list[Exchange]:
    """Every operation with positive and negative data (blocking: runs in a thread)."""
    schema_response = httpx.get(f"{api.url}/openapi.json", timeout=10)
    schema_response.raise_for_status()
    schema = schemathesis.openapi.from_dict(schema_response.json())
    exchanges: list[Exchange] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(api, operation, mode, targets, exchanges.append)
    return exchanges


def _fuzz_operation(
    api: SigningApi,
    operation: Any,
    mode: GenerationMode,
    targets: list[str],
    record: Callable[[Exchange], None],
) -> None:
    @FUZZ_SETTINGS
    @given(
        case=operation.as_strategy(generation_mode=mode),
        # Aim path parameters at live processes too, so updates reach their validators.
        target=st.sampled_from([None, *targets]),
        # Negative cases keep their generated (bogus) credentials half of the time.
        authenticated=st.booleans() if mode is GenerationMode.NEGATIVE else st.just(True),
    )
    def fuzz(case: Any, target: str | None, authenticated: bool) -> None:
        if target is not None and "business_key" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "business_key": target}
        key = KEYS.get(case.operation.path)
        if authenticated and key is not None:
            case.headers = {
                name: value
                for name, value in (case.headers or {}).items()
                if name.lower() not in ("x-api-key", "authorization")
            } | key
        response = case.call(base_url=api.url, timeout=30)
        exchange = Exchange(
            method=case.operation.method.upper(),
            route=case.operation.path,
            business_key=(case.path_parameters or {}).get("business_key"),
            status=response.status_code,
            body=_json(response.content),
            headers={name.lower(): ", ".join(v) for name, v in response.headers.items()},
        )
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            exchange.findings = [
                f"{failure.title} ({_first_lines(failure)})"
                for failure in group.exceptions
                if not _binary_part(failure)
            ]
        record(exchange)

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing to make invalid: no parameters and no body (e.g. GET /healthz).
        assert mode is GenerationMode.NEGATIVE, f"no {mode.value} data for {operation.label}"


def _first_lines(failure: Exception, lines: int = 6) -> str:
    """What schemathesis says of a finding (which part violates what), for the assertion."""
    return " | ".join(line.strip() for line in str(failure).splitlines()[:lines] if line.strip())


def _binary_part(failure: Exception) -> bool:
    """Schemathesis false positive: a "non-string" `file` part is still bytes once sent."""
    text = str(failure)
    return "Schema-violating request accepted" in text and "/properties/file " in text


async def _start(api: SigningApi, http: httpx.AsyncClient, key: str, approval: bool) -> None:
    response = await http.post(
        f"{api.url}/v1/signing-processes",
        json=api.start_body(key, approval=approval),
        headers=CRM_KEY,
    )
    assert response.status_code == 201, response.text


async def _workflow_ids(api: SigningApi) -> set[str]:
    """Every process on this module's task queue (the dev server's visibility store)."""
    query = f'TaskQueue = "{api.task_queue}"'
    return {execution.id async for execution in api.client.list_workflows(query)}


async def _history_counts(api: SigningApi, workflow_id: str) -> Counter[str]:
    history = await api.client.get_workflow_handle(workflow_id).fetch_history()
    counts: Counter[str] = Counter(EventType.Name(event.event_type) for event in history.events)
    counts["signature_event"] = len(await signalled_events(history))
    return counts


async def test_openapi_fuzz_never_fails_starts_or_signals(
    signing_api: SigningApi, http: httpx.AsyncClient
) -> None:
    api = signing_api
    run = uuid.uuid4().hex[:6]
    targets = [f"FUZZ-{run}-approval", f"FUZZ-{run}-signature"]
    await _start(api, http, targets[0], approval=True)
    await _start(api, http, targets[1], approval=False)

    exchanges = await asyncio.to_thread(run_schemathesis, api, targets)

    statuses = Counter(e.status for e in exchanges)
    assert {401, 404, 422} <= set(statuses), statuses  # the fuzzer got past every layer
    server_errors = [(e.method, e.route, e.status, e.body) for e in exchanges if e.status >= 500]
    assert all(status == 503 for _, _, status, _ in server_errors), server_errors[:3]
    assert all("retry-after" in e.headers for e in exchanges if e.status == 503)
    shapeless = [(e.route, e.status, e.body) for e in exchanges if e.status >= 400 and not e.error]
    assert not shapeless, f"errors without the JSON error shape: {shapeless[:3]}"
    findings = Counter(
        f"{e.method} {e.route} → {e.error or e.status}: {f}" for e in exchanges for f in e.findings
    )
    assert not findings, findings.most_common(5)

    # Only successful starts created processes; only successful updates and accepted
    # callbacks reached them; and no accepted input wedged a workflow task.
    started = {
        e.body["workflow_id"]
        for e in exchanges
        if e.method == "POST" and e.route == "/v1/signing-processes" and e.status in (200, 201)
    }
    assert await _workflow_ids(api) == started | {f"signing-{key}" for key in targets}
    accepted_callbacks = sum(
        1 for e in exchanges if e.route == RECEIVER and e.body == {"status": "accepted"}
    )
    signals = 0
    for workflow_id in sorted(started) + [f"signing-{key}" for key in targets]:
        counts = await _history_counts(api, workflow_id)
        key = workflow_id.removeprefix("signing-")
        updates_ok = sum(
            1
            for e in exchanges
            if e.business_key == key
            and e.route.rsplit("/", 1)[-1] in UPDATE_ROUTES
            and 200 <= e.status < 300
        )
        assert counts["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"] <= updates_ok, workflow_id
        assert counts["EVENT_TYPE_WORKFLOW_TASK_FAILED"] == 0, workflow_id
        signals += counts["signature_event"]
    assert signals == accepted_callbacks


# ------------------------------------------------------------------ receiver
@dataclass(frozen=True)
class Probe:
    """A raw callback body and the answers it may get."""

    kind: str
    content: bytes
    expected: frozenset[int]
    event_id: str | None = None


class Callbacks:
    """Hypothesis strategies for callbacks aimed at one live process."""

    HARMFUL = ("signed", "declined", "cancelled", "expired", "signer_email_bounced")

    def __init__(self, api: SigningApi, business_key: str) -> None:
        self.api = api
        self.key = business_key

    def body(self, event_type: str, *, event_time: str | None = None) -> dict[str, Any]:
        sent_at = str(int(time.time())) if event_time is None else event_time
        external_id = f"{self.key}#1"
        return {
            "uuid": str(uuid.uuid4()),
            "status": "ok",
            "event_type": event_type,
            "event_time": sent_at,
            "event_hash": self.api.sign(sent_at, event_type),
            "document": {"uuid": f"doc-{external_id}", "external_id": external_id},
            "signer": {"email": "signer@acme.example.com", "message": None},
        }

    @staticmethod
    def probe(kind: str, body: Any, expected: set[int]) -> Probe:
        content = json.dumps(body).encode()
        if len(content) > MAX_CALLBACK_BYTES:
            expected = {413}
        event_id = body.get("uuid") if isinstance(body, dict) else None
        return Probe(
            kind, content, frozenset(expected), event_id if isinstance(event_id, str) else None
        )

    def strategy(self) -> st.SearchStrategy[Probe]:
        harmful = st.sampled_from(self.HARMFUL)
        json_values = st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
            ),
            max_leaves=12,
        )
        not_a_string = st.integers() | st.floats(allow_nan=False) | st.lists(st.text(), max_size=2)
        return st.one_of(
            st.builds(self.valid),
            st.builds(
                self.forged,
                harmful,
                st.none() | st.text(max_size=80) | st.from_regex(r"\A[0-9a-f]{64}\Z"),
            ),
            st.builds(self.flipped, harmful, st.integers(0, 63)),
            st.builds(
                self.hash_not_a_string,
                harmful,
                not_a_string | st.dictionaries(st.text(), st.text()),
            ),
            st.builds(
                self.wrong_type,
                harmful,
                st.sampled_from(["uuid", "event_type", "document", "document.uuid", "status"]),
                not_a_string | st.booleans() | st.dictionaries(st.text(), st.integers()),
            ),
            st.builds(self.bad_time, harmful, st.text(max_size=30)),
            st.builds(
                self.out_of_window, harmful, st.sampled_from([-1, 1]), st.integers(16 * 60, 10**9)
            ),
            st.builds(
                self.huge,
                harmful,
                st.sampled_from(["uuid", "event_type", "detail"]),
                st.integers(1_000, 300_000),
            ),
            st.builds(self.unknown_document, harmful, st.text(max_size=40)),
            st.builds(lambda value: self.probe("arbitrary-json", value, {401, 422}), json_values),
            st.builds(
                lambda raw: Probe("not-json", raw, frozenset({422})),
                st.binary(max_size=200).filter(_not_json),
            ),
        )

    def valid(self) -> Probe:
        return self.probe("valid", self.body("signer_viewed"), {200})

    def forged(self, event_type: str, presented: str | None) -> Probe:
        body = self.body(event_type)
        if presented is not None and presented.strip().lower() == body["event_hash"]:
            presented = None
        return self.probe("forged", {**body, "event_hash": presented}, {401})

    def flipped(self, event_type: str, position: int) -> Probe:
        body = self.body(event_type)
        digest = body["event_hash"]
        wrong = "0" if digest[position] != "0" else "1"
        body["event_hash"] = digest[:position] + wrong + digest[position + 1 :]
        return self.probe("flipped-hash", body, {401})

    def hash_not_a_string(self, event_type: str, value: Any) -> Probe:
        return self.probe(
            "hash-not-a-string", {**self.body(event_type), "event_hash": value}, {422}
        )

    def wrong_type(self, event_type: str, path: str, value: Any) -> Probe:
        body = self.body(event_type)
        if path == "document.uuid":
            body["document"]["uuid"] = value
        else:
            body[path] = value
        return self.probe(f"wrong-type:{path}", body, {422})

    def bad_time(self, event_type: str, text: str) -> Probe:
        # Signed over the text as sent: unparsable is 422; any parsable time is a hint.
        body = self.body(event_type, event_time=text)
        return self.probe("bad-time", body, {200, 422})

    def out_of_window(self, event_type: str, sign: int, seconds: int) -> Probe:
        moment = str(int(time.time()) + sign * seconds)
        # Correctly hashed, of another time: a hint (200), which Core Signature then refutes.
        return self.probe("out-of-window", self.body(event_type, event_time=moment), {200})

    def huge(self, event_type: str, where: str, size: int) -> Probe:
        body = self.body(event_type)
        blob = "x" * size
        if where == "detail":
            body["signer"]["message"] = blob
        else:
            body[where] = blob
        body["event_hash"] = "0" * 64  # forged: a valid huge event would be legitimate
        return self.probe(f"huge:{where}", body, {401})

    def unknown_document(self, event_type: str, external_id: str) -> Probe:
        body = self.body(event_type)
        body["document"] = {"uuid": "doc-unknown", "external_id": f"NOPE-{external_id}"}
        return self.probe("unknown-document", body, {404})


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


def run_receiver_fuzz(api: SigningApi, callbacks: Callbacks) -> list[tuple[Probe, int, Any]]:
    answered: list[tuple[Probe, int, Any]] = []
    with httpx.Client(base_url=api.url, timeout=30, trust_env=False) as client:

        @settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 15)
        @given(probe=callbacks.strategy())
        def fuzz(probe: Probe) -> None:
            response = client.post(
                RECEIVER, content=probe.content, headers={"content-type": "application/json"}
            )
            answered.append((probe, response.status_code, _json(response.content)))
            assert response.status_code in probe.expected, (probe.kind, response.text[:300])

        fuzz()
    return answered


async def test_receiver_fuzz_never_signals_bad_callbacks(
    signing_api: SigningApi, http: httpx.AsyncClient
) -> None:
    api = signing_api
    key = f"FUZZ-{uuid.uuid4().hex[:6]}-callbacks"
    await _start(api, http, key, approval=False)
    handle = api.client.get_workflow_handle(f"signing-{key}", result_type=SigningStatus)
    for _ in range(300):
        status = await handle.query("status", result_type=SigningStatus)
        if status.state is SigningState.AWAITING_SIGNATURE:
            break
        await asyncio.sleep(0.05)
    assert status.state is SigningState.AWAITING_SIGNATURE, status.waiting_for
    # Core Signature holds the document as sent, with none of the fuzzer's events.
    api.systems.truth[f"doc-{key}#1"] = VendorTruth(status="se")

    answered = await asyncio.to_thread(run_receiver_fuzz, api, Callbacks(api, key))

    kinds = Counter(probe.kind.split(":")[0] for probe, _, _ in answered)
    assert len(kinds) >= 8, kinds  # the strategies were all exercised
    # Correctly hashed callbacks are hints: the ones the process admitted were signalled.
    valid = [p.event_id for p, _, body in answered if body == {"status": "accepted"}]
    valid_ids = set(valid)
    refused_ids = {p.event_id for p, status, _ in answered if status != 200} - {None}
    assert all(status < 500 for _, status, _ in answered)
    assert valid_ids, "no valid control callback was generated"

    status = await handle.query("status", result_type=SigningStatus)
    assert status.state is SigningState.AWAITING_SIGNATURE, status.outcome_reason
    signalled = [event.event_id for event in await api.signals(key)]
    assert sorted(signalled) == sorted(valid)  # each accepted callback signalled once
    assert not set(signalled) & refused_ids
    audit_ids = {e.data["event_id"] for e in status.audit if e.kind in ("event", "event_ignored")}
    assert audit_ids <= valid_ids
