"""`SigningProcesses`: start and drive signing workflows (decide, correct, cancel, status).

Business apps and docflow's own HTTP API both go through it, so the rules for ids,
idempotency and error mapping live here (and in `ProcessClient`), not in HTTP handlers.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from docflow import search_attributes as sa
from docflow.correlation import business_key_from_external_id
from docflow.docstore import DocumentStore
from docflow.filetypes import DocumentTypeError, check_document, safe_filename
from docflow.idempotency import digest, field_digests
from docflow.models import (
    ApprovalDecision,
    CancelRequest,
    Decision,
    DocumentRef,
    NewDocumentVersion,
    RepairRequest,
    SignatureCorrection,
    SignatureEvent,
    Signer,
    SigningProcessInput,
    SigningRequest,
    SigningState,
    SigningStatus,
    UpdateAccepted,
)
from docflow.models.approvals import RepairAction
from docflow.models.bounds import CALLER_INPUT
from docflow.settings import Settings
from docflow.temporal import signing_workflow_id
from starter.processes.base import (
    Delivery,
    DocumentNotStored,
    DocumentTypeRefused,
    InvalidProcessInput,
    ProcessClient,
    ProcessNotFound,
    StartResult,
)


class SigningProcesses(ProcessClient):
    """Start and drive signing workflows for one environment (settings profile)."""

    workflow_type = "SigningWorkflow"
    process_name = "signing process"

    def __init__(self, client: Client, settings: Settings, store: DocumentStore) -> None:
        super().__init__(client, settings)
        self.store = store

    def workflow_id(self, key: str) -> str:
        return signing_workflow_id(key)

    # ---------------------------------------------------------------- start
    async def start(
        self, request: SigningRequest, document: DocumentRef, started_by: str
    ) -> StartResult:
        """Start the process for `request.business_key`, or return the run that already exists.

        The request and document are checked against the caller-input bounds first (the API
        did so already; other callers of these helpers get the same rules).
        """
        request = _caller_checked(request)
        document = _caller_checked(document)
        await self._require_stored(document)
        process = SigningProcessInput(
            request=request,
            document=document,
            environment=self.settings.profile,
            policy=self.settings.signing_policy,
            started_by=started_by,
        )
        source = request.source
        return await self.start_process(
            request.business_key,
            process,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, request.business_key),
                    SearchAttributePair(
                        sa.SOURCE_RECORD,
                        f"{source.system}/{source.record_type}/{source.record_id}",
                    ),
                    SearchAttributePair(sa.DOCUMENT_TYPE, request.document_type),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.STATUS, SigningState.VALIDATING.value),
                ]
            ),
            static_summary=f"Signing {request.business_key}: {request.document_type} "
            f"for {source.system} {source.record_type} {source.record_id}",
        )

    async def store_document(
        self, data: bytes, filename: str, content_type: str = "application/pdf", version: int = 1
    ) -> DocumentRef:
        """Put bytes into the store under a plain file name, once their signature matches the
        declared type and name; the returned reference is what processes carry."""
        filename = safe_filename(filename)
        try:
            content_type = check_document(data, filename, content_type)
        except DocumentTypeError as exc:
            raise DocumentTypeRefused(str(exc)) from exc
        return await self.store.put(
            data, filename=filename, content_type=content_type, version=version
        )

    def fingerprint(self, arg: BaseModel) -> dict[str, str] | None:
        """A start repeats another if its request's fields and its document are the same."""
        assert isinstance(arg, SigningProcessInput)
        return {
            **field_digests(arg.request, prefix="request."),
            "document": digest(arg.document.model_dump(mode="json")),
        }

    # -------------------------------------------------------------- updates
    async def decide(
        self,
        business_key: str,
        actor: str,
        decision: Decision,
        comment: str = "",
        stage: str | None = None,
        *,
        request_id: str | None = None,
        version: int | None = None,
    ) -> UpdateAccepted:
        """Record an approver's decision; `actor` must be the authenticated caller (or the
        principal an action link is bound to). `version` pins the approval cycle."""
        payload = ApprovalDecision(
            actor=actor, decision=decision, comment=comment, stage=stage, version=version
        )
        return await self._accepted(business_key, "decide", payload, request_id)

    async def submit_new_version(
        self,
        business_key: str,
        actor: str,
        document: DocumentRef,
        comment: str = "",
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Hand in a revised document after changes were requested."""
        await self._require_stored(document)
        payload = NewDocumentVersion(actor=actor, document=document, comment=comment)
        return await self._accepted(business_key, "submit_new_version", payload, request_id)

    async def correct(
        self,
        business_key: str,
        actor: str,
        signers: list[Signer] | None = None,
        document: DocumentRef | None = None,
        comment: str = "",
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Resolve a signature exception with new signers and/or a new document version."""
        if document is not None:
            await self._require_stored(document)
        payload = SignatureCorrection(
            actor=actor, signers=signers, document=document, comment=comment
        )
        return await self._accepted(business_key, "correct_signature", payload, request_id)

    async def repair(
        self,
        business_key: str,
        actor: str,
        action: RepairAction,
        comment: str = "",
        *,
        request_id: str | None = None,
    ) -> UpdateAccepted:
        """Answer a step that gave up (archiving): retry it after fixing the cause, or abandon."""
        payload = RepairRequest(actor=actor, action=action, comment=comment)
        return await self._accepted(business_key, "repair", payload, request_id)

    async def cancel(
        self, business_key: str, actor: str, reason: str, *, request_id: str | None = None
    ) -> UpdateAccepted:
        """Cancel the process (and any open signature request)."""
        payload = CancelRequest(actor=actor, reason=reason)
        return await self._accepted(business_key, "cancel", payload, request_id)

    # ----------------------------------------------------- queries, signals
    async def status(self, business_key: str) -> SigningStatus:
        """The process's state, stages, signature, archive and audit trail."""
        return await self.query(business_key, "status", result_type=SigningStatus)

    async def next_document_version(self, business_key: str) -> int:
        """The version number a newly uploaded revision gets when the caller names none."""
        return (await self.status(business_key)).document_version + 1

    async def deliver_signature_event(self, event: SignatureEvent) -> Delivery:
        """Signal a verified Core Signature event; "ignored" if the process already ended."""
        business_key = business_key_from_external_id(event.external_id)
        if business_key is None:
            raise ProcessNotFound(f"external id {event.external_id!r} is not one of ours")
        return await self.signal(business_key, "signature_event", event)

    # -------------------------------------------------------------- helpers
    async def _accepted(
        self, business_key: str, update: str, payload: BaseModel, request_id: str | None
    ) -> UpdateAccepted:
        return await self.update(
            business_key, update, payload, result_type=UpdateAccepted, request_id=request_id
        )

    async def _require_stored(self, document: DocumentRef) -> None:
        try:
            stored = await self.store.exists(document)
        except ValueError:  # a key that escapes the store is simply not one of ours
            stored = False
        if not stored:
            raise DocumentNotStored(
                f"document {document.key} is not in the document store; upload it first"
            )


Checked = TypeVar("Checked", bound=BaseModel)


def _caller_checked(model: Checked) -> Checked:
    """`model` validated again under the caller-input bounds (`docflow.models.bounds`)."""
    try:
        return type(model).model_validate(
            model.model_dump(mode="json"), context={CALLER_INPUT: True}
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:5]
        ]
        raise InvalidProcessInput("; ".join(problems)) from exc
