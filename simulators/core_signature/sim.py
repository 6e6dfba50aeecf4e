"""The simulated Core Signature tenant: documents, signing, events, callbacks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from simulators.core_signature.config import AutopilotAction, CoreSignatureConfig, TemplateSeed
from simulators.core_signature.models import (
    DocumentCreate,
    DocumentState,
    EventState,
    SignatureRequestCreate,
    SignatureRequestState,
    SignerState,
    SimError,
    TemplateState,
    conflict,
    not_found,
)
from simulators.kit.delivery import CallbackDispatcher
from simulators.kit.faults import FaultInjector
from simulators.kit.pdf import make_pdf
from simulators.kit.timers import Timers

ERROR_EVENTS = frozenset({"convert_error", "sending_error", "signer_email_bounced"})
SENT_STATES = frozenset({"se", "vi"})
# Events the vendor sends beyond those docflow acts on (it ignores unknown types).
SIGNER_INFO_EVENTS = frozenset({"signer_forwarded", "signer_downloaded", "signrequest_received"})
_DOCUMENT_PATH = re.compile(r"/documents/(?P<uuid>[0-9a-fA-F-]{32,36})/?$")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_hash(key: str, event_time: str, event_type: str) -> str:
    """hex(HMAC-SHA256(key, event_time + event_type)), as Core Signature signs callbacks."""
    return hmac.new(key.encode(), (event_time + event_type).encode(), hashlib.sha256).hexdigest()


class CoreSignatureSim:
    """All state of one simulated Core Signature tenant; reachable as `app.state.sim`."""

    def __init__(self, config: CoreSignatureConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.callbacks = CallbackDispatcher(
            config.callback_retry, config.callback_faults, seed=config.seed
        )
        self._file_key = secrets.token_bytes(32)
        self.tokens: dict[str, datetime] = {}
        self._timers = Timers()
        self.reset()

    def reset(self) -> None:
        """Forget documents, requests, events and callbacks; tokens stay valid."""
        self._timers.cancel_all()
        self.documents: dict[str, DocumentState] = {}
        self.signature_requests: dict[str, SignatureRequestState] = {}
        self.events: list[EventState] = []
        self.rejected_signature_requests: Counter[str] = Counter()
        self.faults.configure(self.config.faults)
        self.callbacks.clear()
        self.callbacks.configure(self.config.callback_faults)
        self.autopilot = self.config.autopilot.model_copy(deep=True)
        self.templates: dict[str, TemplateState] = {}
        for seed in self.config.templates:
            self.add_template(seed)

    async def settle(self, timeout_s: float) -> bool:
        """Wait until no conversion, autopilot action or callback is pending; False on timeout."""
        return await self._timers.settle(self.callbacks, timeout_s)

    async def aclose(self) -> None:
        self._timers.cancel_all()
        await self.callbacks.aclose()

    # tokens

    def issue_token(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = datetime.now(UTC) + timedelta(seconds=self.config.token_ttl_s)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.config.token_ttl_s,
            "scope": "readwrite",
        }

    def token_valid(self, token: str) -> bool:
        expires = self.tokens.get(token)
        if expires is None:
            return False
        if expires <= datetime.now(UTC):
            del self.tokens[token]
            return False
        return True

    # documents and signature requests

    def create_document(self, body: DocumentCreate, api_base: str) -> DocumentState:
        if not body.file_from_content:
            raise SimError(400, {"file_from_content": ["This field is required."]})
        try:
            content = base64.b64decode(body.file_from_content, validate=True)
        except (binascii.Error, ValueError):
            raise SimError(400, {"file_from_content": ["Invalid base64 content."]}) from None
        if not content:
            raise SimError(400, {"file_from_content": ["The submitted file is empty."]})
        name = body.name or body.file_from_content_name
        if not name:
            raise SimError(400, {"file_from_content_name": ["This field is required."]})
        doc = DocumentState(
            uuid=str(uuid.uuid4()),
            name=name,
            external_id=body.external_id,
            events_callback_url=body.events_callback_url,
            content=content,
            auto_expire_days=body.auto_expire_days,
            link_expire_days=body.link_expire_days,
            api_base=self.config.public_url.rstrip("/") if self.config.public_url else api_base,
            created=datetime.now(UTC),
        )
        self.documents[doc.uuid] = doc
        if self.config.convert_delay_ms:
            self._later(self.config.convert_delay_ms, lambda: self._finish_conversion(doc))
        else:
            self._finish_conversion(doc)
        return doc

    def _finish_conversion(self, doc: DocumentState) -> None:
        if doc.status == "co":
            doc.status = "ne"
            self.emit(doc, "converted")

    def document(self, doc_uuid: str) -> DocumentState:
        doc = self.documents.get(doc_uuid)
        if doc is None:
            raise not_found()
        return doc

    def signature_request(self, sr_uuid: str) -> SignatureRequestState:
        sr = self.signature_requests.get(sr_uuid)
        if sr is None:
            raise not_found()
        return sr

    def create_signature_request(self, body: SignatureRequestCreate) -> SignatureRequestState:
        match = _DOCUMENT_PATH.search(body.document.split("?")[0])
        doc = self.documents.get(match["uuid"] if match else body.document)
        if doc is None:
            raise SimError(400, {"document": ["Invalid hyperlink - Object does not exist."]})
        if doc.signrequest is not None:
            self.rejected_signature_requests[doc.external_id or doc.uuid] += 1
            raise SimError(400, {"document": ["This document already has a signature request."]})
        self._finish_conversion(doc)
        if doc.status != "ne":
            raise SimError(
                400,
                {"document": [f"A document in status '{doc.status}' cannot be sent for signing."]},
            )
        sr = SignatureRequestState(
            uuid=str(uuid.uuid4()),
            document_uuid=doc.uuid,
            from_email=body.from_email,
            subject=body.subject,
            message=body.message,
            who=body.who,
            send_reminders=body.send_reminders,
            signers=[
                SignerState(s.email, s.first_name, s.last_name, s.order, s.needs_to_sign, True)
                for s in sorted(body.signers, key=lambda s: s.order)
            ],
            created=datetime.now(UTC),
        )
        self.signature_requests[sr.uuid] = sr
        doc.signrequest = sr
        doc.status = "se"
        self.emit(doc, "sent")
        self._schedule_autopilot(doc)
        return sr

    def cancel(self, sr: SignatureRequestState) -> None:
        doc = self.documents[sr.document_uuid]
        if doc.status == "ca":
            return
        if doc.status not in {"ne", "se", "vi", "es"}:
            raise SimError(
                400, {"detail": f"A document in status '{doc.status}' can no longer be cancelled."}
            )
        sr.cancelled = True
        doc.status = "ca"
        self.emit(doc, "cancelled")

    def resend(self, sr: SignatureRequestState) -> None:
        doc = self.documents[sr.document_uuid]
        if doc.status not in SENT_STATES:
            raise SimError(400, {"detail": f"Cannot resend in status '{doc.status}'."})

    # the humans (control API and autopilot)

    def view(self, doc: DocumentState, email: str | None) -> None:
        signers = self._acting_signers(doc, email, SENT_STATES)
        if doc.status == "se":
            doc.status = "vi"
            self.emit(doc, "viewed")
        for signer in signers:
            if not signer.viewed:
                signer.viewed = True
                # The signer opened the invitation e-mail, then the document.
                self.emit(doc, "signer_viewed_email", signer)
                self.emit(doc, "signer_viewed", signer)

    def signer_event(self, doc: DocumentState, email: str | None, event_type: str) -> None:
        """A signer's informational event (forwarded, downloaded, received): no status change."""
        if event_type not in SIGNER_INFO_EVENTS:
            raise conflict(f"Unknown signer event {event_type!r}.")
        signers = self._acting_signers(doc, email, SENT_STATES | {"si", "sd"})
        self.emit(doc, event_type, signers[0])

    def sign(self, doc: DocumentState, email: str | None) -> None:
        signers = [
            s
            for s in self._acting_signers(doc, email, SENT_STATES)
            if s.needs_to_sign and not s.signed
        ]
        if email and not signers:
            raise conflict(f"{email} has nothing left to sign.")
        for signer in signers:
            signer.viewed = True
            signer.signed = True
            signer.signed_on = datetime.now(UTC)
            self.emit(doc, "signer_signed", signer)
        assert doc.signrequest is not None
        if all(s.signed for s in doc.signrequest.signers if s.needs_to_sign):
            doc.status = "si"
            self._seal(doc)
            self.emit(doc, "signed")

    def decline(self, doc: DocumentState, email: str | None, reason: str) -> None:
        signer = self._one_signer(doc, email)
        signer.viewed = True
        signer.declined = True
        signer.declined_on = datetime.now(UTC)
        signer.message = reason
        doc.status = "de"
        self.emit(doc, "declined", signer)

    def bounce(self, doc: DocumentState, email: str | None) -> None:
        self.emit(doc, "signer_email_bounced", self._one_signer(doc, email))

    def expire(self, doc: DocumentState) -> None:
        self._require_status(doc, {"ne", "se", "vi"})
        doc.status = "xp"
        self.emit(doc, "expired")

    def sending_error(self, doc: DocumentState) -> None:
        self._require_status(doc, {"ne", "se", "vi"})
        doc.status = "es"
        self.emit(doc, "sending_error")

    def convert_error(self, doc: DocumentState) -> None:
        self._require_status(doc, {"co", "ne"})
        doc.status = "ec"
        self.emit(doc, "convert_error")

    def download(self, doc: DocumentState) -> None:
        self._require_status(doc, {"si", "sd"})
        doc.status = "sd"
        self.emit(doc, "downloaded")

    def _require_status(self, doc: DocumentState, allowed: set[str] | frozenset[str]) -> None:
        if doc.status not in allowed:
            raise conflict(f"Not possible in status '{doc.status}' (needs {sorted(allowed)}).")

    def _acting_signers(
        self, doc: DocumentState, email: str | None, allowed: frozenset[str]
    ) -> list[SignerState]:
        self._require_status(doc, allowed)
        assert doc.signrequest is not None
        signers = doc.signrequest.signers
        if email is None:
            return list(signers)
        chosen = [s for s in signers if s.email == email.lower()]
        if not chosen:
            raise conflict(f"{email} is not a signer of this document.")
        return chosen

    def _one_signer(self, doc: DocumentState, email: str | None) -> SignerState:
        signers = self._acting_signers(doc, email, SENT_STATES)
        pending = [s for s in signers if not s.signed]
        if not pending:
            raise conflict("Every signer has already signed.")
        return pending[0]

    def _seal(self, doc: DocumentState) -> None:
        assert doc.signrequest is not None
        lines = [
            f"Document: {doc.name}",
            f"External id: {doc.external_id or '-'}",
            f"Document uuid: {doc.uuid}",
            f"Original SHA-256: {hashlib.sha256(doc.content).hexdigest()}",
            "",
        ]
        lines += [
            f"Signed by {s.display_name} on {iso(s.signed_on)}"
            for s in doc.signrequest.signers
            if s.signed
        ]
        lines += ["", "Sealed by OpenText Core Signature (simulator)."]
        doc.signed_pdf = make_pdf(doc.name, lines)
        signed_hash = hashlib.sha256(doc.signed_pdf).hexdigest()
        log = [
            f"Document: {doc.name} ({doc.uuid})",
            f"Signature request: {doc.signrequest.uuid}",
            f"Sender: {doc.signrequest.from_email}",
            f"Signed document SHA-256: {signed_hash}",
            "",
            "Events (UTC):",
        ]
        log += [
            f"{e.timestamp}  {e.event_type}" + (f"  {e.signer_email}" if e.signer_email else "")
            for e in self.events
            if e.document_uuid == doc.uuid
        ]
        log.append(f"{iso(datetime.now(UTC))}  signed")
        doc.signing_log_pdf = make_pdf(f"Signing log: {doc.name}", log)

    # events and callbacks

    def emit(self, doc: DocumentState, event_type: str, signer: SignerState | None = None) -> None:
        """Store an event and send it to the document's callback URL, if it has one."""
        now = datetime.now(UTC)
        # As the vendor sends them: event_time is Unix seconds as a string (the signed text),
        # timestamp is ISO-8601 with microseconds.
        event_time = str(int(now.timestamp()))
        event = EventState(
            uuid=str(uuid.uuid4()),
            event_type=event_type,
            status="error" if event_type in ERROR_EVENTS else "ok",
            event_time=event_time,
            event_hash=event_hash(self.config.event_hash_key, event_time, event_type),
            timestamp=iso(now) or "",
            document_uuid=doc.uuid,
            signer_email=signer.email if signer else None,
            payload={},
        )
        event.payload = {
            "uuid": event.uuid,
            "status": event.status,
            "event_type": event_type,
            "event_time": event_time,
            "event_hash": event.event_hash,
            "timestamp": event.timestamp,
            "team": self.team_json(doc),
            "token_name": self.config.token_name,
            "document": self.document_json(doc),
            "signer": self.signer_json(signer) if signer else None,
        }
        self.events.append(event)
        if doc.events_callback_url:
            deliveries = self.callbacks.submit(
                doc.events_callback_url,
                json.dumps(event.payload).encode(),
                event_id=event.uuid,
                event_type=event_type,
                meta={"document_uuid": doc.uuid, "external_id": doc.external_id},
            )
            event.delivery_ids = [d.id for d in deliveries]

    # autopilot

    def _schedule_autopilot(self, doc: DocumentState) -> None:
        pilot = self.autopilot
        if not pilot.enabled or doc.signrequest is None:
            return
        texts = [doc.external_id or ""] + [s.email for s in doc.signrequest.signers]
        action, after_ms, reason = pilot.action, pilot.after_ms, "Declined by autopilot."
        for rule in pilot.rules:
            if any(rule.match.lower() in text.lower() for text in texts):
                action, reason = rule.action, rule.reason
                after_ms = rule.after_ms if rule.after_ms is not None else pilot.after_ms
                break
        if action is not None:
            chosen: AutopilotAction = action
            self._later(after_ms, lambda: self._autopilot(doc, chosen, reason))

    def _autopilot(self, doc: DocumentState, action: AutopilotAction, reason: str) -> None:
        if doc.status not in SENT_STATES or self.documents.get(doc.uuid) is not doc:
            return
        if action in ("view", "sign"):
            self.view(doc, None)
        if action == "sign":
            self.sign(doc, None)
        elif action == "decline":
            self.decline(doc, None, reason)
        elif action == "bounce":
            self.bounce(doc, None)
        elif action == "expire":
            self.expire(doc)

    def _later(self, delay_ms: int, action: Callable[[], None]) -> None:
        self._timers.later(delay_ms, action)

    # representations

    # templates (made in the web UI; the control API plays that part)

    def add_template(self, seed: TemplateSeed) -> TemplateState:
        """A new template; its uuid follows from the name, so a re-created one is the same."""
        if any(t.name == seed.name for t in self.templates.values()):
            raise conflict(f"A template named '{seed.name}' already exists.")
        template_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"core-signature-template:{seed.name}"))
        template = TemplateState(template_uuid, seed.name, seed.who, seed.signers)
        self.templates[template_uuid] = template
        return template

    def template(self, template_uuid: str) -> TemplateState:
        template = self.templates.get(template_uuid)
        if template is None:
            raise not_found()
        return template

    def template_json(self, template: TemplateState, api_base: str) -> dict[str, Any]:
        return {
            "url": f"{api_base}/api/v1/templates/{template.uuid}/",
            "uuid": template.uuid,
            "name": template.name,
            "user": None,
            "team": {"name": self.config.team_name, "subdomain": self.config.team_subdomain},
            "who": template.who,
            "signers": [
                {
                    "signer_index": index,
                    "order": index,
                    "needs_to_sign": True,
                    "approve_only": False,
                    "notify_only": False,
                    "in_person": False,
                    "placeholders": [],
                }
                for index in range(template.signers)
            ],
        }

    def team_json(self, doc: DocumentState) -> dict[str, Any]:
        # As in the vendor's documented callback: the team's name and subdomain only.
        return {"name": self.config.team_name, "subdomain": self.config.team_subdomain}

    def document_url(self, doc: DocumentState) -> str:
        return f"{doc.api_base}/api/v1/documents/{doc.uuid}/"

    def document_json(self, doc: DocumentState) -> dict[str, Any]:
        signed_hash = hashlib.sha256(doc.signed_pdf).hexdigest() if doc.signed_pdf else None
        log = None
        if doc.signing_log_pdf is not None:
            log = {
                "pdf": self.file_url(doc, "signing-log.pdf"),
                "security_hash": hashlib.sha256(doc.signing_log_pdf).hexdigest(),
            }
        expire_after = (
            doc.created + timedelta(days=doc.auto_expire_days) if doc.auto_expire_days else None
        )
        return {
            "url": self.document_url(doc),
            "uuid": doc.uuid,
            "name": doc.name,
            "external_id": doc.external_id,
            "status": doc.status,
            "processing": doc.status == "co",
            "events_callback_url": doc.events_callback_url,
            "file": self.file_url(doc, "original"),
            "pdf": self.file_url(doc, "signed.pdf") if doc.signed_pdf else None,
            "signing_log": log,
            "security_hash": signed_hash,
            "signrequest": self.signrequest_json(doc.signrequest) if doc.signrequest else None,
            "team": self.team_json(doc),
            "auto_expire_days": doc.auto_expire_days,
            "auto_expire_after": iso(expire_after),
            "link_expire_days": doc.link_expire_days,
            "created": iso(doc.created),
            # Documented fields docflow does not use, present as the vendor sends them.
            "api_used": True,
            "attachments": [],
            "file_from_url": None,
            "prefill_tags": [],
            "template": None,
            "user": None,
        }

    def signrequest_json(self, sr: SignatureRequestState) -> dict[str, Any]:
        doc = self.documents[sr.document_uuid]
        return {
            "uuid": sr.uuid,
            "url": f"{doc.api_base}/api/v1/signature-requests/{sr.uuid}/",
            "document": self.document_url(doc),
            "from_email": sr.from_email,
            "subject": sr.subject,
            "message": sr.message,
            "who": sr.who,
            "send_reminders": sr.send_reminders,
            "signers": [self.signer_json(s) for s in sr.signers],
        }

    @staticmethod
    def signer_json(signer: SignerState) -> dict[str, Any]:
        return {
            "email": signer.email,
            "display_name": signer.display_name,
            "first_name": signer.first_name,
            "last_name": signer.last_name,
            "order": signer.order,
            "needs_to_sign": signer.needs_to_sign,
            "emailed": signer.emailed,
            "viewed": signer.viewed,
            "signed": signer.signed,
            "signed_on": iso(signer.signed_on),
            "declined": signer.declined,
            "declined_on": iso(signer.declined_on),
            "message": signer.message or None,
        }

    def event_json(self, event: EventState) -> dict[str, Any]:
        """The Event resource of `GET /events/`: no event_time, event_hash or token_name (those
        belong to the callback), but the delivery outcome."""
        deliveries = [d for d in self.callbacks.deliveries if d.id in set(event.delivery_ids)]
        attempts = [a for d in deliveries for a in d.attempts]
        delivered = [a for a in attempts if a.status_code and 200 <= a.status_code < 300]
        payload = event.payload
        return {
            "uuid": event.uuid,
            "status": event.status,
            "event_type": event.event_type,
            "delivered": bool(delivered),
            "delivered_on": iso(delivered[0].at) if delivered else None,
            "callback_status_code": attempts[-1].status_code if attempts else None,
            "timestamp": event.timestamp,
            "team": payload["team"],
            "document": payload["document"],
            "signer": payload["signer"],
        }

    # temporary file links

    def file_url(self, doc: DocumentState, kind: str) -> str:
        expires = int(datetime.now(UTC).timestamp()) + self.config.file_url_ttl_s
        token = self._file_token(doc.uuid, kind, expires)
        return f"{doc.api_base}/_files/{doc.uuid}/{kind}?expires={expires}&token={token}"

    def file_bytes(self, doc_uuid: str, kind: str, expires: int, token: str) -> bytes:
        good = hmac.compare_digest(token, self._file_token(doc_uuid, kind, expires))
        if not good or expires < datetime.now(UTC).timestamp():
            raise SimError(403, {"detail": "This link has expired or is invalid."})
        doc = self.document(doc_uuid)
        content = {
            "original": doc.content,
            "signed.pdf": doc.signed_pdf,
            "signing-log.pdf": doc.signing_log_pdf,
        }.get(kind)
        if content is None:
            raise not_found()
        return content

    def _file_token(self, doc_uuid: str, kind: str, expires: int) -> str:
        message = f"{doc_uuid}:{kind}:{expires}".encode()
        return hmac.new(self._file_key, message, hashlib.sha256).hexdigest()[:32]


def current_sim(request: Request) -> CoreSignatureSim:
    sim: CoreSignatureSim = request.app.state.sim
    return sim
