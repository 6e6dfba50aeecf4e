"""Core Signature client and activities against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.core_signature import CoreSignatureActivities
from activities.core_signature.client import CoreSignatureClient
from activities.http.errors import (
    AuthenticationError,
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
)
from activities.http.oauth import ClientCredentialsTokenProvider
from docflow.docstore import LocalDocumentStore
from docflow.models import CreateSignatureInput, DocumentRef, SignatureRequestCreated, Signer
from docflow.settings import Settings
from tests.activities.simulated import Sim

PDF = b"%PDF-1.4\n% docflow test contract\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def activities(
    core_signature_client: CoreSignatureClient, store: LocalDocumentStore, settings: Settings
) -> CoreSignatureActivities:
    return CoreSignatureActivities(core_signature_client, store, settings)


async def _request(store: LocalDocumentStore, external_id: str) -> CreateSignatureInput:
    ref: DocumentRef = await store.put(PDF, filename="contract.pdf", content_type="application/pdf")
    return CreateSignatureInput(
        external_id=external_id,
        document=ref,
        signers=[
            Signer(email="ann@example.com", first_name="Ann", last_name="Lee", order=0),
            Signer(email="bob@example.com", first_name="Bob", last_name="Ray", order=1),
        ],
        sender_email="contracts@example.com",
        subject="Please sign",
        message="Thanks",
    )


async def _created(
    env: ActivityEnvironment,
    activities: CoreSignatureActivities,
    store: LocalDocumentStore,
    external_id: str,
) -> SignatureRequestCreated:
    return await env.run(activities.create_signature_request, await _request(store, external_id))


# --------------------------------------------------------------------------- OAuth


async def test_token_is_cached_and_refreshed_once_after_revoke(
    core_signature_client: CoreSignatureClient,
    token_provider: ClientCredentialsTokenProvider,
    core_signature_sim: Sim,
) -> None:
    await core_signature_client.find_documents_by_external_id("nothing")
    await core_signature_client.find_documents_by_external_id("nothing")
    assert token_provider.fetches == 1

    await core_signature_sim.control("POST", "/tokens/revoke")
    assert await core_signature_client.find_documents_by_external_id("nothing") == []
    assert token_provider.fetches == 2  # 401 -> one refresh -> success


async def test_concurrent_callers_share_one_token_fetch(
    token_provider: ClientCredentialsTokenProvider,
) -> None:
    tokens = await asyncio.gather(*(token_provider.token() for _ in range(10)))
    assert len(set(tokens)) == 1
    assert token_provider.fetches == 1


async def test_token_refreshed_shortly_before_expiry(
    http: httpx.AsyncClient, core_signature_sim: Sim
) -> None:
    now = [0.0]
    provider = ClientCredentialsTokenProvider(
        http,
        f"{core_signature_sim.url}/tenants/docflow/oauth2/token",
        "docflow-dev",
        "dev-core-signature-secret",
        clock=lambda: now[0],
    )
    first = await provider.token()
    now[0] = 900 - 61  # tokens live 900 s, as OCP's do; refresh 60 s early
    assert await provider.token() == first
    now[0] = 900 - 59
    assert await provider.token() != first
    assert provider.fetches == 2


async def test_bad_client_secret_is_an_authentication_error(
    http: httpx.AsyncClient, core_signature_sim: Sim
) -> None:
    provider = ClientCredentialsTokenProvider(
        http, f"{core_signature_sim.url}/tenants/docflow/oauth2/token", "docflow-dev", "wrong"
    )
    with pytest.raises(AuthenticationError):
        await provider.token()


# ----------------------------------------------------------------- error mapping


async def test_429_carries_retry_after_into_next_retry_delay(
    core_signature_client: CoreSignatureClient,
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    core_signature_sim: Sim,
) -> None:
    await core_signature_sim.fail_next(429, retry_after_s=7, match="GET /api/v1/documents")
    with pytest.raises(RetryableServiceError) as client_error:
        await core_signature_client.get_document("00000000-0000-0000-0000-000000000000")
    assert client_error.value.status == 429
    assert client_error.value.retry_after == timedelta(seconds=7)

    await core_signature_sim.fail_next(429, retry_after_s=7, match="GET /api/v1/documents")
    ref = SignatureRequestCreated(document_uuid="x", document_url="x", signature_request_uuid="y")
    with pytest.raises(ApplicationError) as app_error:
        await activity_env.run(activities.await_final_status, ref)
    assert not app_error.value.non_retryable
    assert app_error.value.next_retry_delay == timedelta(seconds=7)
    assert app_error.value.type == "RetryableServiceError"


async def test_5xx_is_retryable(
    activities: CoreSignatureActivities, activity_env: ActivityEnvironment, core_signature_sim: Sim
) -> None:
    await core_signature_sim.fail_next(503, match="GET /api/v1/documents")
    ref = SignatureRequestCreated(document_uuid="x", document_url="x", signature_request_uuid="y")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.await_final_status, ref)
    assert not error.value.non_retryable
    assert error.value.next_retry_delay is None


async def test_4xx_is_not_retryable(
    core_signature_client: CoreSignatureClient,
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    core_signature_sim: Sim,
) -> None:
    with pytest.raises(NotFoundError):
        await core_signature_client.get_document("00000000-0000-0000-0000-000000000000")
    await core_signature_sim.fail_next(400, match="POST /api/v1/documents")
    with pytest.raises(PermanentServiceError):
        await core_signature_client.create_document(
            content=PDF, filename="a.pdf", external_id="bad-request"
        )
    ref = SignatureRequestCreated(
        document_uuid="00000000-0000-0000-0000-000000000000",
        document_url="x",
        signature_request_uuid="y",
    )
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.await_final_status, ref)
    assert error.value.non_retryable
    assert error.value.type == "NotFoundError"


async def test_connection_refused_is_retryable(
    http: httpx.AsyncClient, token_provider: ClientCredentialsTokenProvider
) -> None:
    client = CoreSignatureClient(http, "http://127.0.0.1:9", token_provider)
    with pytest.raises(RetryableServiceError):
        await client.get_document("x")


# ------------------------------------------------------------------- activities


async def test_create_is_idempotent_per_external_id(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
) -> None:
    first = await _created(activity_env, activities, store, "Q-1001#1")
    second = await _created(activity_env, activities, store, "Q-1001#1")
    assert first == second

    requests = await core_signature_sim.control("GET", "/signature-requests")
    assert requests["count_by_external_id"] == {"Q-1001#1": 1}
    assert requests["rejected_duplicates_by_external_id"] == {}
    documents = await core_signature_sim.control("GET", "/documents")
    assert documents["count"] == 1


async def test_create_reuses_a_document_left_without_request(
    core_signature_client: CoreSignatureClient,
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
) -> None:
    # A previous attempt uploaded the document, then failed before the signature request.
    orphan = await core_signature_client.create_document(
        content=PDF, filename="contract.pdf", external_id="Q-1002#1"
    )
    created = await _created(activity_env, activities, store, "Q-1002#1")
    assert created.document_uuid == orphan.uuid
    document = await core_signature_client.get_document(orphan.uuid)
    assert document.status == "se"
    assert document.signrequest is not None
    assert [s.email for s in document.signrequest.signers] == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert document.signrequest.from_email == "contracts@example.com"
    assert document.signrequest.who == "o"


async def test_cancel_answers_the_final_status(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1003#1")
    cancelled = await activity_env.run(activities.cancel_signature_request, created)
    assert cancelled.status == "ca"
    status = await activity_env.run(activities.await_final_status, created)
    assert status.status == "ca"
    again = await activity_env.run(activities.cancel_signature_request, created)  # no-op
    assert again.status == "ca"

    # Signed before the cancel reached Core Signature: the answer says so, nothing cancelled.
    signed = await _created(activity_env, activities, store, "Q-1003#2")
    await core_signature_sim.control("POST", f"/documents/{signed.document_uuid}/sign")
    refused = await activity_env.run(activities.cancel_signature_request, signed)
    assert refused.status == "si"
    status = await activity_env.run(activities.await_final_status, signed)
    assert status.status == "si"


async def test_a_poll_of_an_open_request_is_a_benign_not_yet(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1005#1")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.await_final_status, created)
    # Retryable (the retry policy is the poll clock) and benign (no warning per poll).
    assert error.value.type == "NotFinalYet" and not error.value.non_retryable
    assert error.value.category is ApplicationErrorCategory.BENIGN


async def test_status_carries_the_decline_reason(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1004#1")
    await core_signature_sim.control(
        "POST",
        f"/documents/{created.document_uuid}/decline",
        json={"email": "bob@example.com", "reason": "Wrong price"},
    )
    status = await activity_env.run(activities.await_final_status, created)
    assert status.status == "de"
    assert status.decline_reason == "Wrong price"


async def test_fetch_signed_artifacts_verifies_and_stores_both_files(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1005#1")
    await core_signature_sim.control("POST", f"/documents/{created.document_uuid}/sign")

    artifacts = await activity_env.run(activities.fetch_signed_artifacts, created)

    signed_pdf = await store.get(artifacts.signed_pdf)
    assert hashlib.sha256(signed_pdf).hexdigest() == artifacts.security_hash
    assert signed_pdf.startswith(b"%PDF")
    assert (await store.get(artifacts.signing_log)).startswith(b"%PDF")
    assert artifacts.signed_pdf.filename == "contract (signed).pdf"
    assert [s.email for s in artifacts.signers] == ["ann@example.com", "bob@example.com"]
    assert all(s.signed_on is not None for s in artifacts.signers)
    assert artifacts.completed_at == max(s.signed_on for s in artifacts.signers if s.signed_on)


async def test_tampered_signed_pdf_is_a_document_integrity_error(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    core_signature_sim: Sim,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1006#1")
    await core_signature_sim.control("POST", f"/documents/{created.document_uuid}/sign")
    serve = core_signature_sim.state.file_bytes

    def tampered(doc_uuid: str, kind: str, expires: int, token: str) -> bytes:
        data: bytes = serve(doc_uuid, kind, expires, token)
        return data + b"% altered in transit\n" if kind == "signed.pdf" else data

    monkeypatch.setattr(core_signature_sim.state, "file_bytes", tampered)
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.fetch_signed_artifacts, created)
    assert error.value.type == "DocumentIntegrityError"
    assert error.value.non_retryable


async def test_fetch_before_signing_is_refused(
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1007#1")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(activities.fetch_signed_artifacts, created)
    assert error.value.type == "DocumentNotSigned"
    assert error.value.non_retryable


async def test_list_events_and_resend(
    core_signature_client: CoreSignatureClient,
    activities: CoreSignatureActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
) -> None:
    created = await _created(activity_env, activities, store, "Q-1008#1")
    assert await core_signature_client.resend(created.signature_request_uuid) == "OK"
    page = await core_signature_client.list_events(document_uuid=created.document_uuid)
    assert [e.event_type for e in page.results] == ["converted", "sent"]
    sent = await core_signature_client.list_events(
        document_uuid=created.document_uuid, event_type="sent"
    )
    assert sent.count == 1
