"""The approvers' action page under /actions: decide from the notification, no API key needed.

An approval notification carries signed, expiring links (`docflow.action_links`). Opening one
shows the document (served here for exactly the version the link names), the stage, the
deadline, a comment field and the buttons; submitting records the decision for the link's
principal through `SigningProcesses.decide`, the same rules as the API's decisions route,
with the link's nonce as the idempotency id so a double submit applies once. A tampered link
is refused (403), an expired or used link and a closed stage are gone (410); every refusal is
a plain page, never a traceback. The token in the path (repeated in the form) is the only
credential: no cookies, so a cross-site form cannot act without the link itself.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from docflow.action_links import ActionClaims, ActionLinkError, ActionLinks, ExpiredLink
from docflow.docstore import DocumentNotFoundError, content_key
from docflow.models import Decision, DocumentRef, SigningState, SigningStatus
from starter.api.context import api_context
from starter.processes.base import (
    ProcessNotFound,
    ProcessRuleViolation,
    TemporalUnavailable,
)
from starter.processes.signing import SigningProcesses

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/actions", include_in_schema=False)

MAX_FORM_BYTES = 16 * 1024
MAX_COMMENT_CHARS = 2000
LABELS = {
    Decision.APPROVE: "Approve",
    Decision.REJECT: "Reject",
    Decision.REQUEST_CHANGES: "Request changes",
}
HEADERS = {
    "Cache-Control": "no-store",
    # The link is a credential: never sent to another site (same-origin keeps the form's Origin).
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
color:#1d2733;background:#f6f8fa}
main{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem}
h1{font-size:1.3rem;margin-top:0}dl{display:grid;grid-template-columns:max-content 1fr;
gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}textarea{width:100%;min-height:6rem;
box-sizing:border-box}.buttons{display:flex;gap:.5rem;margin-top:1rem}
button{padding:.5rem 1rem;border:1px solid #8c959f;border-radius:6px;background:#f6f8fa;
font-size:1rem;cursor:pointer}button.chosen{background:#1f6feb;border-color:#1f6feb;
color:#fff;font-weight:600}.status{font-size:.9rem;color:#57606a}
"""
LinkState = Literal["open", "used", "closed"]


# ------------------------------------------------------------------ pages
def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)} · docflow</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status_code, headers=HEADERS)


def _notice(status_code: int, title: str, message: str, code: str) -> HTMLResponse:
    body = f'<p id="notice" data-code="{html.escape(code)}">{html.escape(message)}</p>'
    return _page(title, body, status_code)


def _refusal(problem: ActionLinkError) -> HTMLResponse:
    if isinstance(problem, ExpiredLink):
        return _notice(
            410,
            "This link has expired",
            f"The deadline of stage '{problem.claims.stage}' has passed; the link no longer "
            "works. Ask the process owner if a decision is still needed.",
            "expired",
        )
    return _notice(
        403,
        "This link is not valid",
        "The link was altered or was not issued by docflow. Open it again from the "
        "notification, unchanged.",
        "tampered",
    )


def _gone(state: LinkState, claims: ActionClaims) -> HTMLResponse:
    if state == "used":
        return _notice(
            410,
            "This link has been used",
            f"Your decision in stage '{claims.stage}' of {claims.business_key} is already "
            "recorded; a link decides once.",
            "used",
        )
    return _notice(
        410,
        "This stage has closed",
        f"Stage '{claims.stage}' of {claims.business_key} (document v{claims.version}) is no "
        "longer open for decisions.",
        "closed",
    )


def _unavailable() -> HTMLResponse:
    return _notice(
        503,
        "Please try again shortly",
        "docflow cannot reach its workflow service right now; your link still works.",
        "unavailable",
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _decision_form(token: str, claims: ActionClaims, status: SigningStatus) -> str:
    esc = html.escape
    buttons = "".join(
        f'<button type="submit" name="decision" value="{decision.value}"'
        + (' class="chosen" autofocus' if decision is claims.action else "")
        + f">{LABELS[decision]}</button>"
        for decision in Decision
    )
    return (
        f'<p class="status">You decide as <strong id="principal">{esc(claims.principal)}'
        "</strong>.</p><dl>"
        f'<dt>Process</dt><dd id="process">{esc(claims.business_key)}</dd>'
        f'<dt>Stage</dt><dd id="stage">{esc(claims.stage)}</dd>'
        f'<dt>Document</dt><dd><a id="document" href="{esc(token)}/document" '
        f'target="_blank" rel="noopener noreferrer">version {claims.version} '
        f"(sha256 {esc(claims.sha256[:12])}…)</a></dd>"
        f'<dt>Deadline</dt><dd id="deadline">{esc(_when(claims.expires_at))}</dd>'
        f"<dt>Waiting for</dt><dd>{esc(status.waiting_for or '')}</dd></dl>"
        f'<form method="post" action="{esc(token)}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<label for="comment">Comment</label>'
        f'<textarea id="comment" name="comment" maxlength="{MAX_COMMENT_CHARS}"></textarea>'
        f'<div class="buttons">{buttons}</div></form>'
    )


# ---------------------------------------------------------------- helpers
def _links(request: Request) -> ActionLinks:
    cached: ActionLinks | None = getattr(request.app.state, "action_links", None)
    if cached is None:
        settings = api_context(request).settings
        cached = ActionLinks(settings.secret(settings.api.action_link_key), settings.api.public_url)
        request.app.state.action_links = cached
    return cached


def link_state(claims: ActionClaims, status: SigningStatus) -> LinkState:
    """Whether the link's stage is open for its principal, already decided by them, or closed."""
    me = claims.principal.casefold()
    stages = status.stages if status.document_version == claims.version else []
    stage = stages[claims.stage_index] if claims.stage_index < len(stages) else None
    if stage is None or stage.name != claims.stage:
        return "closed"
    if me in {person.casefold() for person in stage.decided}:
        return "used"
    is_open = (
        status.state is SigningState.AWAITING_APPROVAL
        and status.stage == claims.stage
        and claims.stage_index == len(stages) - 1
        and stage.outcome is None
    )
    return "open" if is_open else "closed"


async def _form(request: Request) -> dict[str, str] | None:
    """The url-encoded form, read with a size limit while streaming; None if too large."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items() if values}


def _same_origin(request: Request) -> bool:
    """A browser names the site a form was posted from; if it does, it must be docflow.
    (The token is the credential; this only refuses a page elsewhere that holds a link.)"""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = {request.headers.get("host", ""), urlsplit(_settings_url(request)).netloc}
    return urlsplit(origin).netloc in own


def _settings_url(request: Request) -> str:
    return api_context(request).settings.api.public_url


# ----------------------------------------------------------------- routes
@router.get("/{token}", response_class=HTMLResponse)
async def action_page(token: str, request: Request) -> HTMLResponse:
    try:
        claims = _links(request).verify(token)
        processes = await api_context(request).processes()
        status = await processes.status(claims.business_key)
    except ActionLinkError as problem:
        return _refusal(problem)
    except ProcessNotFound:
        return _notice(410, "This process has ended", "The process is no longer open.", "closed")
    except TemporalUnavailable:
        return _unavailable()
    except Exception:
        log.exception("action page failed")
        return _notice(500, "Something went wrong", "Please try again later.", "error")
    state = link_state(claims, status)
    if state != "open":
        return _gone(state, claims)
    title = f"{LABELS[claims.action]}? {claims.business_key}"
    return _page(title, _decision_form(token, claims, status))


@router.post("/{token}", response_class=HTMLResponse)
async def record_decision(token: str, request: Request) -> HTMLResponse:
    try:
        claims = _links(request).verify(token)
    except ActionLinkError as problem:
        return _refusal(problem)
    if not _same_origin(request):
        return _notice(403, "Not accepted", "This form was sent from another site.", "origin")
    form = await _form(request)
    if form is None:
        return _notice(413, "Too much text", "Please shorten your comment.", "too_large")
    if form.get("token") != token:
        return _notice(403, "Not accepted", "The form does not belong to this link.", "tampered")
    try:
        decision = Decision(form.get("decision", ""))
    except ValueError:
        return _notice(422, "Choose a decision", "Approve, reject or request changes.", "invalid")
    comment = form.get("comment", "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        return _notice(413, "Too much text", "Please shorten your comment.", "too_large")
    try:
        processes = await api_context(request).processes()
        return await _decide(processes, claims, decision, comment)
    except ProcessNotFound:
        return _notice(410, "This process has ended", "The process is no longer open.", "closed")
    except TemporalUnavailable:
        return _unavailable()
    except Exception:
        log.exception("action decision failed")
        return _notice(500, "Something went wrong", "Please try again later.", "error")


async def _decide(
    processes: SigningProcesses, claims: ActionClaims, decision: Decision, comment: str
) -> HTMLResponse:
    state = link_state(claims, await processes.status(claims.business_key))
    if state != "open":
        return _gone(state, claims)
    try:
        accepted = await processes.decide(
            claims.business_key,
            claims.principal,
            decision,
            comment,
            claims.stage,
            request_id=claims.request_id,
            version=claims.version,
        )
    except ProcessRuleViolation as refused:
        state = link_state(claims, await processes.status(claims.business_key))
        if state != "open":
            return _gone(state, claims)
        return _notice(409, "Decision not accepted", str(refused), "refused")
    log.info(
        "decision %s on %s by %s through an action link (%s)",
        decision.value,
        claims.business_key,
        claims.principal,
        accepted.detail,
    )
    return _notice(
        200,
        "Decision recorded",
        f"{LABELS[decision]} by {claims.principal} in stage '{claims.stage}' of "
        f"{claims.business_key} is recorded ({accepted.detail}). You can close this page.",
        "recorded",
    )


@router.get("/{token}/document", response_model=None)
async def action_document(token: str, request: Request) -> Response:
    """Exactly the document version the link names, for as long as the link is valid."""
    try:
        claims = _links(request).verify(token)
    except ActionLinkError as problem:
        return _refusal(problem)
    filename = f"{claims.business_key}-v{claims.version}.pdf"
    ref = DocumentRef(
        key=content_key(claims.sha256), sha256=claims.sha256, size=0, filename=filename
    )
    try:
        data = await api_context(request).store.get(ref)
    except DocumentNotFoundError:
        return _notice(404, "Document not found", "The document is no longer stored.", "missing")
    except Exception:
        log.exception("action document failed")
        return _notice(500, "Something went wrong", "Please try again later.", "error")
    is_pdf = data.startswith(b"%PDF")
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    disposition = "inline" if is_pdf else "attachment"
    return Response(
        data,
        media_type="application/pdf" if is_pdf else "application/octet-stream",
        headers={**HEADERS, "Content-Disposition": f'{disposition}; filename="{safe_name}"'},
    )
