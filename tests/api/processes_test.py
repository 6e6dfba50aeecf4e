"""The /v1 API: authentication and scopes, idempotent start, decisions, errors, OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef, SigningState, SigningStatus
from starter.api import create_app
from starter.processes.signing import SigningProcesses
from tests.api.conftest import auth, make_settings
from tests.api.support import PDF, new_key, signing_request, wait_until, workflow

ALICE = "alice@example.com"


async def temporal_not_needed() -> Client:
    raise AssertionError("this route must not need Temporal")


def start_body(
    business_key: str, document: DocumentRef, approvers: list[str] | None = None
) -> dict[str, Any]:
    request = signing_request(business_key, approvers)
    return {"request": request.model_dump(mode="json"), "document": document.model_dump()}


async def start(
    api: httpx.AsyncClient, document: DocumentRef, approvers: list[str] | None = None
) -> str:
    key = new_key()
    response = await api.post(
        "/v1/signing-processes", json=start_body(key, document, approvers), headers=auth("crm")
    )
    assert response.status_code == 201, response.text
    return key


async def test_credentials_are_required_and_scopes_enforced(
    api: httpx.AsyncClient, document: DocumentRef
) -> None:
    body = start_body(new_key(), document)
    url = "/v1/signing-processes"

    missing = await api.post(url, json=body)
    wrong_key = await api.post(url, json=body, headers={"X-API-Key": "nope"})
    wrong_bearer = await api.post(url, json=body, headers={"Authorization": "Bearer nope"})
    no_scope = await api.post(url, json=body, headers=auth("auditor"))
    bearer_key = await api.get(
        "/v1/signing-processes/UNKNOWN-1", headers={"Authorization": "Bearer test-auditor-key"}
    )

    for refused in (missing, wrong_key, wrong_bearer):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.json()["error"]["code"] == "unauthenticated"
    assert no_scope.status_code == 403
    assert no_scope.json()["error"] == {
        "code": "insufficient_scope",
        "message": "auditor@example.com lacks scope processes:start",
    }
    assert bearer_key.status_code == 404  # an API key as bearer token authenticates


async def test_start_twice_returns_the_same_run(
    api: httpx.AsyncClient, document: DocumentRef
) -> None:
    key = new_key()
    body = start_body(key, document)

    first = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))
    second = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["created"] is True and second.json()["created"] is False
    assert first.json()["run_id"] == second.json()["run_id"]
    assert first.json()["workflow_id"] == f"signing-{key}"
    assert first.json()["status_url"] == f"http://docflow.test/v1/signing-processes/{key}"
    assert first.json()["web_ui_url"].startswith(
        f"http://ui.test/namespaces/default/workflows/signing-{key}/"
    )


async def test_start_after_the_process_ended_returns_the_closed_run(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = new_key()
    body = start_body(key, document)
    first = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))
    cancelled = await api.post(
        f"/v1/signing-processes/{key}/cancel", json={"reason": "deal lost"}, headers=auth("crm")
    )
    await workflow(processes.client, key).result()

    again = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))
    cancel_again = await api.post(
        f"/v1/signing-processes/{key}/cancel", json={"reason": "again"}, headers=auth("crm")
    )

    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert again.status_code == 200
    assert again.json()["run_id"] == first.json()["run_id"] and again.json()["created"] is False
    assert cancel_again.status_code == 409
    assert "already ended" in cancel_again.json()["error"]["message"]


async def test_multipart_start_stores_the_file(
    api: httpx.AsyncClient, store: LocalDocumentStore
) -> None:
    key = new_key()
    request = signing_request(key).model_dump_json()

    response = await api.post(
        "/v1/signing-processes",
        files={
            "request": (None, request, "application/json"),
            "file": ("msa.pdf", PDF, "application/pdf"),
        },
        headers=auth("crm"),
    )
    status = await api.get(f"/v1/signing-processes/{key}", headers=auth("crm"))

    assert response.status_code == 201, response.text
    assert status.status_code == 200
    assert SigningStatus.model_validate(status.json()).audit[0].actor == "app:crm"


async def test_upload_then_start_by_reference_and_unknown_reference(
    api: httpx.AsyncClient,
) -> None:
    upload = await api.post(
        "/v1/documents",
        files={"file": ("msa.pdf", PDF + b"v2", "application/pdf")},
        data={"version": "2"},
        headers=auth("crm"),
    )
    assert upload.status_code == 201, upload.text
    document = DocumentRef.model_validate(upload.json())
    assert document.version == 2 and document.filename == "msa.pdf"

    started = await api.post(
        "/v1/signing-processes", json=start_body(new_key(), document), headers=auth("crm")
    )
    missing = document.model_copy(update={"key": f"sha256/00/{'0' * 64}", "sha256": "0" * 64})
    refused = await api.post(
        "/v1/signing-processes", json=start_body(new_key(), missing), headers=auth("crm")
    )
    invalid = await api.post(
        "/v1/signing-processes", json={"request": {"business_key": "x"}}, headers=auth("crm")
    )

    assert started.status_code == 201
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_document"
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_request"


async def test_oversized_upload_is_413(
    tmp_path: Path, task_queue: str, store: LocalDocumentStore
) -> None:
    settings = make_settings(tmp_path, task_queue, api={"max_upload_bytes": 16})
    app = create_app(settings, temporal_not_needed, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        response = await api.post(
            "/v1/documents",
            files={"file": ("big.pdf", PDF, "application/pdf")},
            headers=auth("crm"),
        )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_decision_is_recorded_for_the_authenticated_principal(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await start(api, document, approvers=[ALICE])
    handle = workflow(processes.client, key)
    await wait_until(handle, lambda s: len(s.audit) > 0)

    response = await api.post(
        f"/v1/signing-processes/{key}/decisions",
        json={"decision": "approve", "comment": "ok", "stage": "legal", "actor": "ceo@example.com"},
        headers=auth("alice"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "legal"
    status = await handle.query("status", result_type=SigningStatus)
    decisions = [(e.actor, e.detail) for e in status.audit if e.kind == "decision"]
    assert decisions == [(ALICE, "approve")]
    assert status.state is SigningState.AWAITING_SIGNATURE


async def test_validator_refusal_is_409_with_the_reason(
    api: httpx.AsyncClient, document: DocumentRef
) -> None:
    key = await start(api, document, approvers=[ALICE])
    url = f"/v1/signing-processes/{key}/decisions"

    not_approver = await api.post(url, json={"decision": "approve"}, headers=auth("bob"))
    wrong_stage = await api.post(
        url, json={"decision": "approve", "stage": "finance"}, headers=auth("alice")
    )
    no_exception = await api.post(
        f"/v1/signing-processes/{key}/corrections", json={"comment": "x"}, headers=auth("alice")
    )

    # Bob is not assigned to this process: for him it does not exist.
    assert not_approver.status_code == 404
    assert not_approver.json()["error"]["code"] == "process_not_found"
    assert wrong_stage.status_code == 409
    assert "'finance' is not open" in wrong_stage.json()["error"]["message"]
    assert no_exception.status_code == 403  # alice may decide but not correct


async def test_idempotency_key_applies_a_decision_once(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await start(api, document, approvers=[ALICE])
    url = f"/v1/signing-processes/{key}/decisions"
    headers = {**auth("alice"), "Idempotency-Key": "retry-1"}

    first = await api.post(url, json={"decision": "approve"}, headers=headers)
    retried = await api.post(url, json={"decision": "approve"}, headers=headers)

    assert (first.status_code, retried.status_code) == (200, 200)
    status = await workflow(processes.client, key).query("status", result_type=SigningStatus)
    assert [e.actor for e in status.audit if e.kind == "decision"] == [ALICE]


async def test_new_version_upload_gets_the_next_version(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    key = await start(api, document, approvers=[ALICE])
    changes = await api.post(
        f"/v1/signing-processes/{key}/decisions",
        json={"decision": "request_changes", "comment": "fix clause 7"},
        headers=auth("alice"),
    )
    assert changes.status_code == 200

    response = await api.post(
        f"/v1/signing-processes/{key}/versions",
        files={"file": ("msa-v2.pdf", PDF + b"revised", "application/pdf")},
        data={"comment": "clause 7 fixed"},
        headers=auth("crm"),
    )

    assert response.status_code == 200, response.text
    status = await workflow(processes.client, key).query("status", result_type=SigningStatus)
    assert status.document_version == 2
    assert status.audit[-1].actor == "app:crm"


async def test_unknown_process_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/signing-processes/NO-SUCH-KEY-1", headers=auth("alice"))
    decision = await api.post(
        "/v1/signing-processes/NO-SUCH-KEY-1/decisions",
        json={"decision": "approve"},
        headers=auth("alice"),
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "process_not_found"
    assert decision.status_code == 404


async def test_unexpected_errors_are_500_without_details(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: SigningProcesses, business_key: str) -> SigningStatus:
        raise KeyError("secret internals")

    monkeypatch.setattr(SigningProcesses, "status", broken)
    response = await api.get("/v1/signing-processes/K-1", headers=auth("alice"))

    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal error"}}


async def test_health_and_readiness(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    assert (await api.get("/readyz")).json() == {"status": "ready"}


async def test_api_starts_and_answers_503_while_temporal_is_down(
    tmp_path: Path, task_queue: str, store: LocalDocumentStore, document: DocumentRef
) -> None:
    calls = 0

    async def temporal_down() -> Client:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("connection refused")

    app = create_app(make_settings(tmp_path, task_queue), temporal_down, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        health = await api.get("/healthz")
        ready = await api.get("/readyz")
        started = await api.post(
            "/v1/signing-processes", json=start_body(new_key(), document), headers=auth("crm")
        )
        unauthenticated = await api.post("/v1/signing-processes", json={})

    assert health.status_code == 200
    assert ready.status_code == 503
    assert started.status_code == 503 and started.headers["Retry-After"].isdigit()
    assert started.json()["error"]["code"] == "temporal_unavailable"
    assert unauthenticated.status_code == 401  # authentication comes before Temporal
    assert calls == 2


async def test_openapi_lists_the_routes(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()

    assert {
        "/v1/documents",
        "/v1/signing-processes",
        "/v1/signing-processes/{business_key}",
        "/v1/signing-processes/{business_key}/decisions",
        "/v1/signing-processes/{business_key}/versions",
        "/v1/signing-processes/{business_key}/corrections",
        "/v1/signing-processes/{business_key}/cancel",
        "/webhooks/core-signature",
        "/healthz",
        "/readyz",
    } <= set(spec["paths"])
    start = spec["paths"]["/v1/signing-processes"]["post"]
    assert set(start["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    schemas = spec["components"]["schemas"]
    assert {"StartSigningProcess", "SigningRequest", "CoreSignatureCallback"} <= set(schemas)
    assert "actor" not in schemas["DecisionBody"]["properties"]
    assert {"ApiKey", "Bearer"} <= set(spec["components"]["securitySchemes"])
    # Every $ref resolves inside the document.
    refs = {
        part.split('"')[0] for part in json.dumps(spec).split('"$ref": "#/components/schemas/')[1:]
    }
    assert refs <= set(schemas)


async def test_unreadable_bodies_and_bad_durations_are_422(
    api: httpx.AsyncClient, document: DocumentRef
) -> None:
    key = await start(api, document, approvers=[ALICE])
    not_utf8 = await api.post(
        f"/v1/signing-processes/{key}/repairs",
        content=b'{"action": "\xff\xfe"}',
        headers={**auth("ops"), "content-type": "application/json"},
    )
    request = signing_request(new_key()).model_dump(mode="json")
    request["approval_stages"] = [
        {"name": "legal", "approvers": ["alice@example.com"], "deadline": "-PT1H"}
    ]
    negative = await api.post(
        "/v1/signing-processes",
        files={"file": ("c.pdf", PDF, "application/pdf")},
        data={"request": json.dumps(request)},
        headers=auth("crm"),
    )

    assert not_utf8.status_code == 422
    assert not_utf8.json()["error"]["code"] == "invalid_request"
    assert negative.status_code == 422
    assert "deadline" in negative.json()["error"]["message"]


async def test_a_callback_url_or_other_unknown_field_is_refused(
    api: httpx.AsyncClient, store: LocalDocumentStore
) -> None:
    # Callers never choose where docflow sends data: reports go to the registered endpoint.
    document = await store.put(PDF, filename="c.pdf", content_type="application/pdf")
    body = start_body(new_key(), document)
    body["request"]["callback_url"] = "file:///etc/passwd"
    by_reference = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))
    request = signing_request(new_key()).model_dump(mode="json")
    request["callback_url"] = "http://attacker.example.com/"
    multipart = await api.post(
        "/v1/signing-processes",
        files={"file": ("c.pdf", PDF, "application/pdf")},
        data={"request": json.dumps(request)},
        headers=auth("crm"),
    )
    body = start_body(new_key(), document)
    body["request"]["priority"] = "high"
    unknown = await api.post("/v1/signing-processes", json=body, headers=auth("crm"))

    for response in (by_reference, multipart):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert "callback_url is not accepted" in error["message"]
        assert "registered for source.system" in error["message"]
    assert unknown.status_code == 422
    assert "request.priority: Extra inputs are not permitted" in unknown.json()["error"]["message"]
