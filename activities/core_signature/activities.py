"""Activities for OpenText Core Signature: create, cancel, poll and collect signed evidence."""

from __future__ import annotations

import hashlib

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.core_signature.client import CoreSignatureClient, SignerSpec
from activities.core_signature.models import CsDocument, CsSigner
from activities.http.error_mapping import external_call
from activities.http.errors import PermanentServiceError
from activities.http.oauth import ClientCredentialsTokenProvider
from docflow.docstore import DocumentStore
from docflow.models import (
    ConfirmedClaim,
    CreateSignatureInput,
    SignatureDocumentStatus,
    SignatureEventClaim,
    SignatureRequestCreated,
    SignedArtifacts,
    SignerOutcome,
)
from docflow.models.events import STATUS_TO_EVENT
from docflow.settings import Settings


class CoreSignatureActivities:
    def __init__(
        self, client: CoreSignatureClient, store: DocumentStore, settings: Settings
    ) -> None:
        self._client = client
        self._store = store
        self._events_callback_url = settings.core_signature.events_callback_url

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, store: DocumentStore
    ) -> CoreSignatureActivities:
        """The activities with an OAuth2 client-credentials client on the shared pool."""
        cs = settings.core_signature
        tokens = ClientCredentialsTokenProvider(
            http,
            cs.token_url,
            cs.client_id,
            settings.secret(cs.client_secret),
            system="core-signature-oauth",
            timeout_s=cs.timeout_s,
        )
        client = CoreSignatureClient(http, cs.base_url, tokens, timeout_s=cs.timeout_s)
        return cls(client, store, settings)

    @activity.defn(name="create_signature_request")
    async def create_signature_request(
        self, request: CreateSignatureInput
    ) -> SignatureRequestCreated:
        """Idempotent by `external_id`: a retry finds the document (and request) it made before."""
        with external_call(f"create signature request {request.external_id}"):
            existing = await self._client.find_documents_by_external_id(request.external_id)
            document = _prefer_with_request(existing)
            if document is not None and document.signrequest and document.signrequest.uuid:
                activity.logger.info(
                    "signature request %s for %s exists already (document %s)",
                    document.signrequest.uuid,
                    request.external_id,
                    document.uuid,
                )
                return _created(document, document.signrequest.uuid)
            if document is None:
                content = await self._store.get(request.document)
                document = await self._client.create_document(
                    content=content,
                    filename=request.document.filename,
                    external_id=request.external_id,
                    events_callback_url=self._events_callback_url,
                    auto_expire_days=request.auto_expire_days,
                )
                activity.logger.info(
                    "uploaded %s as document %s", request.document.filename, document.uuid
                )
            else:
                activity.logger.info(
                    "reusing document %s for %s", document.uuid, request.external_id
                )
            signature_request = await self._client.create_signature_request(
                document_url=_document_url(document),
                signers=[
                    SignerSpec(
                        email=str(s.email),
                        first_name=s.first_name,
                        last_name=s.last_name,
                        order=s.order,
                        needs_to_sign=s.needs_to_sign,
                    )
                    for s in request.signers
                ],
                from_email=request.sender_email,
                subject=request.subject,
                message=request.message,
                who="o",
            )
        if not signature_request.uuid:
            raise ApplicationError(
                "Core Signature answered without a signature request uuid",
                type="UnexpectedResponse",
            )
        activity.logger.info(
            "created signature request %s for %s with %d signer(s)",
            signature_request.uuid,
            request.external_id,
            len(request.signers),
        )
        return _created(document, signature_request.uuid)

    @activity.defn(name="cancel_signature_request")
    async def cancel_signature_request(
        self, ref: SignatureRequestCreated
    ) -> SignatureDocumentStatus:
        """Cancel unless the document is already final; answer the document's final status.

        A document signed before the cancel reached Core Signature comes back signed: the
        workflow then archives it instead of ending cancelled.
        """
        with external_call(f"cancel signature request {ref.signature_request_uuid}"):
            document = await self._client.get_document(ref.document_uuid)
            if not document.is_final:
                try:
                    result = await self._client.cancel_signature_request(ref.signature_request_uuid)
                except PermanentServiceError:
                    # It may have become final between the two calls; that answers the cancel.
                    document = await self._client.get_document(ref.document_uuid)
                    if not document.is_final:
                        raise
                else:
                    activity.logger.info(
                        "cancelled signature request %s: %s",
                        ref.signature_request_uuid,
                        result.detail or "ok",
                    )
                    return SignatureDocumentStatus(document_uuid=ref.document_uuid, status="ca")
        activity.logger.info(
            "document %s is final (%s); nothing to cancel", ref.document_uuid, document.status
        )
        return _status(document)

    @activity.defn(name="await_final_signature_status")
    async def await_final_status(self, ref: SignatureRequestCreated) -> SignatureDocumentStatus:
        """One poll: the status once it decides the request, else a retryable "not yet".

        The caller's retry policy is the poll clock (one attempt per interval), so a month of
        polling is one activity in the workflow's history.
        """
        with external_call(f"poll status of document {ref.document_uuid}"):
            document = await self._client.get_document(ref.document_uuid)
        if document.status not in STATUS_TO_EVENT:
            # Benign: the retry is the poll clock, not a failure (logged at debug, no alert).
            raise ApplicationError(
                f"document {ref.document_uuid} is still '{document.status}'",
                type="NotFinalYet",
                category=ApplicationErrorCategory.BENIGN,
            )
        activity.logger.info("document %s reached status %s", ref.document_uuid, document.status)
        return _status(document)

    @activity.defn(name="confirm_signature_event")
    async def confirm_event(self, claim: SignatureEventClaim) -> ConfirmedClaim:
        """Ask Core Signature about a callback's claim: a callback is a hint, never proof.

        The event hash covers only the event time and type, so a captured callback can be
        replayed with another document in its body. The workflow acts on this answer: the
        document's status as Core Signature reports it, and, for events no status shows (an
        e-mail bounce), whether the event is in Core Signature's event list for the document.
        """
        with external_call(f"confirm {claim.event_type} of document {claim.document_uuid}"):
            document = await self._client.get_document(claim.document_uuid)
            listed = False
            if document.status not in STATUS_TO_EVENT:
                events = await self._client.list_events(
                    document_uuid=claim.document_uuid, event_type=claim.event_type, limit=100
                )
                listed = any(event.uuid == claim.event_id for event in events.results)
        activity.logger.info(
            "callback %s (%s) of document %s: Core Signature says status %s%s",
            claim.event_id,
            claim.event_type,
            claim.document_uuid,
            document.status,
            ", event listed" if listed else "",
        )
        decliner = _decliner(document)
        return ConfirmedClaim(
            **_status(document).model_dump(),
            event_listed=listed,
            signer_email=decliner.email if decliner else None,
        )

    @activity.defn(name="fetch_signed_artifacts")
    async def fetch_signed_artifacts(self, ref: SignatureRequestCreated) -> SignedArtifacts:
        """Download the signed PDF and signing log, verify the PDF's SHA-256, store both."""
        with external_call(f"fetch signed artifacts of document {ref.document_uuid}"):
            document = await self._client.get_document(ref.document_uuid)
            if not document.is_signed:
                raise ApplicationError(
                    f"document {document.uuid} is not signed (status {document.status!r})",
                    type="DocumentNotSigned",
                    non_retryable=True,
                )
            log_url = document.signing_log.pdf if document.signing_log else None
            expected = document.security_hash or (
                document.signing_log.security_hash if document.signing_log else None
            )
            if not document.pdf or not log_url or not expected:
                # Core Signature fills these in shortly after signing; ask again later.
                raise ApplicationError(
                    f"signed files of document {document.uuid} are not available yet",
                    type="SignedFilesNotReady",
                )
            signed_pdf = await self._client.download(document.pdf)
            activity.heartbeat("signed PDF downloaded")
            signing_log = await self._client.download(log_url)
        actual = hashlib.sha256(signed_pdf).hexdigest()
        if actual != expected.lower():
            raise ApplicationError(
                f"signed PDF of document {document.uuid} has sha256 {actual}, "
                f"Core Signature's security_hash is {expected}",
                type="DocumentIntegrityError",
                non_retryable=True,
            )
        stem = _stem(document.name or f"{document.uuid}.pdf")
        pdf_ref = await self._store.put(
            signed_pdf, filename=f"{stem} (signed).pdf", content_type="application/pdf"
        )
        log_ref = await self._store.put(
            signing_log, filename=f"{stem} (signing log).pdf", content_type="application/pdf"
        )
        signers = document.signrequest.signers if document.signrequest else []
        outcomes = [
            SignerOutcome(email=s.email, signed_on=s.signed_on) for s in signers if s.needs_to_sign
        ]
        signed_times = [o.signed_on for o in outcomes if o.signed_on is not None]
        activity.logger.info(
            "stored signed PDF (%s) and signing log of document %s; sha256 verified",
            pdf_ref.key,
            document.uuid,
        )
        return SignedArtifacts(
            signed_pdf=pdf_ref,
            signing_log=log_ref,
            security_hash=actual,
            signers=outcomes,
            completed_at=max(signed_times) if signed_times else None,
        )


def _status(document: CsDocument) -> SignatureDocumentStatus:
    decliner = _decliner(document)
    return SignatureDocumentStatus(
        document_uuid=document.uuid,
        status=document.status,
        decline_reason=(decliner.message or "") if decliner else "",
    )


def _prefer_with_request(documents: list[CsDocument]) -> CsDocument | None:
    with_request = [d for d in documents if d.signrequest and d.signrequest.uuid]
    return (with_request or documents or [None])[0]


def _created(document: CsDocument, signature_request_uuid: str) -> SignatureRequestCreated:
    return SignatureRequestCreated(
        document_uuid=document.uuid,
        document_url=_document_url(document),
        signature_request_uuid=signature_request_uuid,
    )


def _document_url(document: CsDocument) -> str:
    if not document.url:
        raise ApplicationError(
            f"Core Signature document {document.uuid} has no url", type="UnexpectedResponse"
        )
    return document.url


def _decliner(document: CsDocument) -> CsSigner | None:
    signers = document.signrequest.signers if document.signrequest else []
    return next((s for s in signers if s.declined), None)


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name
