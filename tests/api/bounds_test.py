"""Issue 7 §4: every input is bounded, every refusal is clear.

Body limits hold while a body streams in (chunked, no Content-Length); routes authenticate
before reading a body; every caller field is bounded; documents are what they claim to be;
references point at files in the store; a reused key with another body is a conflict.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from docflow.docstore import LocalDocumentStore
from docflow.models import DocumentRef, SigningProcessInput
from starter.api import create_app
from starter.processes.base import ProcessInputTooLarge
from starter.processes.signing import SigningProcesses
from tests.api.conftest import auth, make_settings
from tests.api.support import PDF, callback, new_key, signing_request

START = "/v1/signing-processes"
CHUNK = 64 * 1024
HUGE = 300 * 1024 * 1024


class Stream:
    """A chunked body of `total` bytes that counts how much of it the server pulled."""

    def __init__(self, total: int = HUGE, prefix: bytes = b'{"request": "') -> None:
        self.total = total
        self.prefix = prefix
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.prefix
        self.pulled += len(self.prefix)
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield b"x" * CHUNK


def start_body(key: str, document: DocumentRef, **request: Any) -> dict[str, Any]:
    body = signing_request(key).model_dump(mode="json")
    body.update(request)
    return {"request": body, "document": document.model_dump()}


async def started_for_alice(api: httpx.AsyncClient, document: DocumentRef) -> str:
    """A running process alice is assigned to (per-object checks precede reading a body)."""
    key = new_key()
    request = signing_request(key, approvers=["alice@example.com"]).model_dump(mode="json")
    body = {"request": request, "document": document.model_dump()}
    response = await api.post(START, json=body, headers=auth("crm"))
    assert response.status_code == 201, response.text
    return key


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", "MZ")
    return buffer.getvalue()


def error(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


# ---------------------------------------------------------------- streaming limits
@pytest.mark.parametrize(
    ("path", "headers", "limit"),
    [
        (START, {**auth("crm"), "Content-Type": "application/json"}, 1024 * 1024),
        ("/webhooks/core-signature", {"Content-Type": "application/json"}, 256 * 1024),
        (
            f"{START}/{{key}}/decisions",
            {**auth("alice"), "Content-Type": "application/json"},
            2**20,
        ),
    ],
)
async def test_a_chunked_body_is_refused_once_past_the_limit(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int, document: DocumentRef
) -> None:
    if "{key}" in path:  # a process alice may decide on: the body is read after that check
        path = path.format(key=await started_for_alice(api, document))
    body = Stream()

    response = await api.post(path, content=body, headers=headers)

    assert response.status_code == 413, response.text
    assert error(response)["code"] == "payload_too_large"
    assert str(limit) in error(response)["message"]
    assert body.pulled <= limit + 2 * CHUNK  # never buffered beyond the limit


async def test_an_upload_streams_up_to_the_upload_limit_only(
    tmp_path: Path, task_queue: str, temporal: Client
) -> None:
    settings = make_settings(tmp_path, task_queue, api={"max_upload_bytes": 256 * 1024})
    app = create_app(settings, temporal, LocalDocumentStore(settings.documents.root))
    boundary = "docflow-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    ).encode()
    body = Stream(prefix=head)
    headers = {**auth("crm"), "Content-Type": f"multipart/form-data; boundary={boundary}"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://docflow.test") as client:
        response = await client.post("/v1/documents", content=body, headers=headers)

    assert response.status_code == 413, response.text
    assert body.pulled <= 256 * 1024 + 1024 * 1024 + 2 * CHUNK


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{START}/K-1/decisions", Stream()),
        (f"{START}/K-1/decisions", b'{"decision": '),
        (f"{START}/K-1/corrections", b"[" * 5000),
        (f"{START}/K-1/repairs", Stream()),
        (f"{START}/K-1/cancel", Stream()),
        (f"{START}/K-1/redeliveries", Stream()),
        (f"{START}/batch", Stream()),
        ("/v1/documents", Stream(prefix=b"--b\r\n")),
    ],
)
async def test_unauthenticated_requests_get_401_before_their_body_is_read(
    api: httpx.AsyncClient, path: str, body: Stream | bytes
) -> None:
    content_type = "multipart/form-data; boundary=b" if "documents" in path else "application/json"

    response = await api.post(path, content=body, headers={"Content-Type": content_type})

    assert response.status_code == 401, response.text
    assert error(response)["code"] == "unauthenticated"
    if isinstance(body, Stream):
        assert body.pulled <= 2 * CHUNK


async def test_a_declared_content_length_over_the_limit_is_refused_unread(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        START, content=b"{}", headers={**auth("crm"), "Content-Length": str(HUGE)}
    )
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"


# ------------------------------------------------------------ sizes and references
async def test_a_huge_metadata_field_is_413_and_many_entries_422(
    api: httpx.AsyncClient, document: DocumentRef
) -> None:
    huge = await api.post(
        START,
        json=start_body(new_key(), document, metadata={"notes": "x" * 3_000_000}),
        headers=auth("crm"),
    )
    many = await api.post(
        START,
        json=start_body(new_key(), document, metadata={f"k{n}": "v" for n in range(51)}),
        headers=auth("crm"),
    )
    long_value = await api.post(
        START,
        json=start_body(new_key(), document, metadata={"notes": "x" * 1001}),
        headers=auth("crm"),
    )

    assert huge.status_code == 413, huge.text
    assert (many.status_code, long_value.status_code) == (422, 422)
    assert "at most 50 items" in error(many)["message"]
    assert "request.metadata.notes" in error(long_value)["message"]


async def test_temporal_payload_limit_is_mapped_to_413(
    processes: SigningProcesses, document: DocumentRef
) -> None:
    # Past every API bound (a helper caller, a future field): Temporal's own limit answers.
    request = signing_request(new_key()).model_copy(update={"metadata": {"x": "y" * 3_000_000}})
    process = SigningProcessInput(
        request=request, document=document, environment="local", started_by="app:crm"
    )

    with pytest.raises(ProcessInputTooLarge):
        await processes.start_process(request.business_key, process)


async def test_payload_too_large_becomes_a_413_answer(
    api: httpx.AsyncClient, processes: SigningProcesses, document: DocumentRef
) -> None:
    # The helpers re-check bounds, so a start through them never reaches Temporal's limit.
    request = signing_request(new_key()).model_copy(update={"metadata": {"x": "y" * 3_000_000}})
    with pytest.raises(Exception) as refused:
        await processes.start(request, document, "app:crm")
    assert type(refused.value).__name__ == "InvalidProcessInput"
    assert "metadata" in str(refused.value)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("k" * 10_000, "at most 512 characters"),
        ("../../etc/passwd", "relative store path"),
        ("sha256", "not in the document store"),  # a directory in the store
        ("sha256/00/" + "0" * 64, "not in the document store"),
    ],
)
async def test_document_references_are_checked_against_the_store(
    api: httpx.AsyncClient, document: DocumentRef, key: str, why: str
) -> None:
    body = start_body(new_key(), document.model_copy(update={"key": key}))

    response = await api.post(START, json=body, headers=auth("crm"))

    assert response.status_code == 422, response.text
    assert why in error(response)["message"]


# ------------------------------------------------------------------- field bounds
@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"signers": [{"email": "a@acme.example.com", "order": 10**30}]}, "at most 100"),
        ({"signers": [{"email": "jane@acme.example"}, {"email": "JANE@acme.example"}]}, "JANE"),
        ({"signers": [{"email": f"s{n}@acme.example"} for n in range(51)]}, "at most 50"),
        ({"signers": [{"email": "jane@acme..example"}]}, "not a valid e-mail"),
        ({"signers": [{"email": "jane@-acme.example"}]}, "not a valid e-mail"),
        ({"signers": [{"email": "ja ne@acme.example"}]}, "email"),
        ({"signers": [{"email": "x" * 65 + "@acme.example"}]}, "before '@'"),
        (
            {
                "approval_stages": [
                    {"name": "legal", "approvers": [f"a{n}@x.example" for n in range(10_000)]}
                ]
            },
            "at most 50 items",
        ),
        (
            {
                "approval_stages": [
                    {"name": f"s{n}", "approvers": ["a@x.example"]} for n in range(10_000)
                ]
            },
            "at most 10",
        ),
        (
            {"approval_stages": [{"name": "legal", "approvers": ["Al@x.example", "al@X.example"]}]},
            "unique",
        ),
        (
            {
                "approval_stages": [
                    {"name": "legal", "approvers": ["a@x.example"], "deadline": "P5000D"}
                ]
            },
            "365 days",
        ),
        ({"title": "t" * 501}, "at most 500"),
        ({"document_type": "d" * 201}, "at most 200"),
    ],
)
async def test_every_request_field_is_bounded(
    api: httpx.AsyncClient, document: DocumentRef, change: dict[str, Any], why: str
) -> None:
    response = await api.post(
        START, json=start_body(new_key(), document, **change), headers=auth("crm")
    )

    assert response.status_code == 422, response.text
    assert error(response)["code"] == "invalid_request"
    assert why in error(response)["message"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"version": 10**30}, "at most 10000"),
        ({"filename": "../../../etc/passwd"}, "plain file name"),
        ({"filename": "a\x00b.pdf"}, "plain file name"),
        ({"content_type": "x" * 101}, "at most 100"),
    ],
)
async def test_document_reference_fields_are_bounded(
    api: httpx.AsyncClient, document: DocumentRef, change: dict[str, Any], why: str
) -> None:
    body = start_body(new_key(), document)
    body["document"].update(change)

    response = await api.post(START, json=body, headers=auth("crm"))

    assert response.status_code == 422, response.text
    assert why in error(response)["message"]


async def test_update_bodies_are_bounded(api: httpx.AsyncClient, document: DocumentRef) -> None:
    key = await started_for_alice(api, document)
    signers = [{"email": "jane@acme.example"}, {"email": "Jane@Acme.example"}]
    correction = await api.post(
        f"{START}/{key}/corrections", json={"signers": signers}, headers=auth("ops")
    )
    stage = await api.post(
        f"{START}/{key}/decisions",
        json={"decision": "approve", "stage": "s" * 201},
        headers=auth("alice"),
    )
    assert (correction.status_code, stage.status_code) == (422, 422)
    assert "Jane@Acme.example" in error(correction)["message"]


# ------------------------------------------------------------------ documents
@pytest.mark.parametrize(
    ("data", "filename", "content_type", "why"),
    [
        (zip_bytes(), "contract.pdf", "application/pdf", "a ZIP archive"),
        (zip_bytes(), "contract.zip", "application/zip", "a ZIP archive"),
        (PDF, "contract.docx", "application/pdf", "ends in .docx"),
        (docx_bytes(), "contract.docx", "application/pdf", "declared as application/pdf"),
        (b"MZ\x90\x00 not a document", "contract.pdf", "application/pdf", "no known document"),
    ],
)
async def test_uploads_must_be_what_they_claim(
    api: httpx.AsyncClient, data: bytes, filename: str, content_type: str, why: str
) -> None:
    files = {"file": (filename, data, content_type)}
    uploaded = await api.post("/v1/documents", files=files, headers=auth("crm"))
    request = signing_request(new_key()).model_dump_json()
    started = await api.post(START, files=files, data={"request": request}, headers=auth("crm"))

    for response in (uploaded, started):
        assert response.status_code == 415, response.text
        assert error(response)["code"] == "unsupported_document"
        assert why in error(response)["message"]


async def test_real_documents_are_accepted_with_their_type(api: httpx.AsyncClient) -> None:
    docx = await api.post(
        "/v1/documents",
        files={"file": ("offer.docx", docx_bytes(), "application/octet-stream")},
        headers=auth("crm"),
    )
    assert docx.status_code == 201, docx.text
    assert docx.json()["content_type"].endswith("wordprocessingml.document")


async def test_uploaded_file_names_are_reduced_to_a_plain_name(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/documents",
        files={"file": ("../../../etc/passwd.pdf", PDF, "application/pdf")},
        headers=auth("crm"),
    )
    windows = await api.post(
        "/v1/documents",
        files={"file": ("C:\\deals\\acme.pdf", PDF, "application/pdf")},
        headers=auth("crm"),
    )
    long = await api.post(
        "/v1/documents",
        files={"file": ("n" * 1000 + ".pdf", PDF, "application/pdf")},
        headers=auth("crm"),
    )

    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "passwd.pdf"
    assert windows.json()["filename"] == "acme.pdf"
    assert long.json()["filename"] == "n" * 196 + ".pdf"


# ---------------------------------------------------------------- idempotency
async def test_a_start_with_another_payload_under_the_same_key_is_a_conflict(
    api: httpx.AsyncClient, document: DocumentRef, store: LocalDocumentStore
) -> None:
    key = new_key()
    other = await store.put(
        PDF + b"% v2\n", filename="contract.pdf", content_type="application/pdf"
    )

    first = await api.post(START, json=start_body(key, document), headers=auth("crm"))
    same = await api.post(START, json=start_body(key, document), headers=auth("crm"))
    retitled = await api.post(
        START, json=start_body(key, document, title="Another deal"), headers=auth("crm")
    )
    redocumented = await api.post(
        START,
        json=start_body(key, other, signers=[{"email": "x@y.example"}]),
        headers=auth("crm"),
    )

    assert (first.status_code, same.status_code) == (201, 200)
    assert same.json()["run_id"] == first.json()["run_id"]
    assert (retitled.status_code, redocumented.status_code) == (409, 409)
    assert error(retitled)["code"] == "idempotency_conflict"
    assert "request.title differs" in error(retitled)["message"]
    assert "document, request.signers differ" in error(redocumented)["message"]


async def test_a_run_started_without_a_fingerprint_is_compared_by_its_input(
    api: httpx.AsyncClient, temporal: Client, settings: Any, document: DocumentRef
) -> None:
    key = new_key()
    process = SigningProcessInput(
        request=signing_request(key), document=document, environment="local", started_by="x"
    )
    # As a run started before fingerprints existed: no memo.
    await temporal.start_workflow(
        "SigningWorkflow", process, id=f"signing-{key}", task_queue=settings.temporal.task_queue
    )

    same = await api.post(START, json=start_body(key, document), headers=auth("crm"))
    other = await api.post(START, json=start_body(key, document, message="hi"), headers=auth("crm"))

    assert same.status_code == 200, same.text
    assert other.status_code == 409
    assert "request.message differs" in error(other)["message"]


async def test_a_reused_idempotency_key_with_another_body_is_a_conflict(
    api: httpx.AsyncClient, document: DocumentRef
) -> None:
    key = new_key()
    body = start_body(key, document)
    body["request"]["approval_stages"] = [
        {"name": "legal", "approvers": ["alice@example.com", "bob@example.com"]},
        {"name": "finance", "approvers": ["alice@example.com"]},
    ]
    assert (await api.post(START, json=body, headers=auth("crm"))).status_code == 201
    url = f"{START}/{key}/decisions"
    headers = {**auth("alice"), "Idempotency-Key": "decision-1"}

    first = await api.post(url, json={"decision": "approve", "comment": "ok"}, headers=headers)
    retry = await api.post(url, json={"decision": "approve", "comment": "ok"}, headers=headers)
    changed = await api.post(url, json={"decision": "approve", "comment": "fine"}, headers=headers)
    next_stage = await api.post(
        url,
        json={"decision": "approve", "comment": "fine"},
        headers={**auth("alice"), "Idempotency-Key": "decision-2"},
    )
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json() == first.json()  # same key, same body: the same answer
    assert changed.status_code == 409, changed.text
    assert error(changed)["code"] == "idempotency_conflict"
    assert "comment differs" in error(changed)["message"]
    assert next_stage.status_code == 200, next_stage.text  # a new key is a new request
    assert next_stage.json()["stage"] == "finance"


async def test_refusals_never_leak_a_traceback(api: httpx.AsyncClient) -> None:
    bad = callback("K-1")
    bad["document"]["external_id"] = "K-1#1" + "x" * 300_000
    response = await api.post("/webhooks/core-signature", json=bad)
    assert response.status_code == 413
    assert "Traceback" not in response.text
