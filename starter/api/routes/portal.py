"""Headless approved content for portals under /v1/portal: the latest APPROVED version of an
ECM document or an Amplience content item, never a newer unapproved one or a superseded one.

What was approved comes from the read model (`RecordStore`): the store answers which version
is approved and whether it was superseded; the bytes come from Content Server (cached in the
document store by SHA-256, checked against the hash the approval knew, or learnt then) and,
for Amplience, the approved version's JSON. Answers carry a strong `ETag` (the SHA-256),
`Repr-Digest`, `Content-Disposition`, honour `If-None-Match` (304) and single `Range`s (206 /
416). Callers are API principals with scope `content:read` (`portals` in read-access.json
may narrow what one of them reads); every read and refusal is written to the access log.

The helpers here (`ContentReader`, `approved_content`, `content_response`, `AccessLog`) are
shared with the partner routes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from activities.amplience.client import AmplienceClient
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.http.errors import NotFoundError, PermanentServiceError, RetryableServiceError
from docflow.config.read_access import Entitlements, ReadAccess
from docflow.docstore import DocumentIntegrityError, DocumentNotFoundError, content_key
from docflow.filetypes import safe_filename
from docflow.models import DocumentRef
from docflow.models.records import ApprovedVersionRow, ContentSource
from docflow.records.store import RecordStore
from docflow.settings import Settings
from starter.api.access_log import AccessLog, access_log
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import ApiError, NotFound, error_responses
from starter.api.records_store import get_store, store_for

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1/portal")

MAX_NODE_ID = 2**53
MAX_VERSION = 1_000_000
ITEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
NodeId = Annotated[int, Path(ge=1, le=MAX_NODE_ID, examples=[41234])]
ItemId = Annotated[
    str, Path(pattern=ITEM_ID_PATTERN, examples=["8a1b2c3d-aaaa-bbbb-cccc-1234567890ab"])
]
VersionNo = Annotated[int, Path(ge=1, le=MAX_VERSION, examples=[3])]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The approved version's bytes.", "content": {"*/*": {}}},
    206: {"description": "One range of them (`Range: bytes=a-b`)."},
    304: {"description": "Unchanged since the `ETag` you hold (`If-None-Match`)."},
    410: {"description": "That version was superseded by a newer approved one."},
    416: {"description": "The range lies outside the content."},
}


# ------------------------------------------------------------------ errors
class Gone(ApiError):
    status_code = 410
    code = "version_superseded"


class RangeNotSatisfiable(ApiError):
    status_code = 416
    code = "range_not_satisfiable"


class ContentUnavailable(ApiError):
    status_code = 502
    code = "content_unavailable"


class ContentTooLarge(ApiError):
    """The approved content is larger than read-access.json lets docflow serve."""

    status_code = 502
    code = "content_too_large"


def refusal(status: int, code: str, message: str) -> ApiError:
    error = ApiError(message)
    error.status_code, error.code = status, code
    return error


# ----------------------------------------------------------- content source
class ContentReader:
    """Reads version content from Content Server and Amplience (one HTTP pool, opened on
    first use). Tests give it a client routed to the simulators."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http
        self._ecm: ContentServerClient | None = None
        self._amplience: AmplienceClient | None = None

    def _pool(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0))
        return self._http

    def ecm(self) -> ContentServerClient:
        if self._ecm is None:
            otcs = self._settings.content_server
            http = self._pool()
            auth = OtcsTicketAuth(
                http,
                otcs.base_url,
                otcs.username,
                self._settings.secret(otcs.password),
                timeout_s=otcs.timeout_s,
            )
            self._ecm = ContentServerClient(http, otcs.base_url, auth, timeout_s=otcs.timeout_s)
        return self._ecm

    def amplience(self) -> AmplienceClient:
        if self._amplience is None:
            self._amplience = AmplienceClient.from_settings(self._settings, self._pool())
        return self._amplience

    async def ecm_version(self, node_id: int, version: int) -> bytes:
        return await self.ecm().version_content(node_id, version)

    async def amplience_version(self, item_id: str, version: int) -> bytes:
        """The approved version's JSON (its body), in one canonical serialisation."""
        item = await self.amplience().get_version(item_id, version)
        return canonical_json(item.body)


def canonical_json(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_reader(request: Request) -> ContentReader:
    state = request.app.state
    reader: ContentReader | None = getattr(state, "content_reader", None)
    if reader is None:
        reader = ContentReader(api_context(request).settings)
        state.content_reader = reader
    return reader


async def read_access(request: Request) -> ReadAccess:
    bundle = await api_context(request).config.current()
    return bundle.get(ReadAccess)


# ---------------------------------------------------------- approved bytes
@dataclass(frozen=True)
class Content:
    data: bytes
    sha256: str
    filename: str
    media_type: str


def _filename(row: ApprovedVersionRow) -> str:
    if row.source == "amplience":
        return safe_filename(f"{row.name or row.object_id}-v{row.version}.json")
    return safe_filename(row.name or f"{row.object_id}-v{row.version}")


async def approved_content(
    request: Request, store: RecordStore, row: ApprovedVersionRow, max_bytes: int
) -> Content:
    """The bytes of an approved version: cached by SHA-256, else fetched and checked against
    the hash the approval knew (or the hash learnt now, written back to the store)."""
    if row.size is not None and row.size > max_bytes:
        raise ContentTooLarge(f"the content has {row.size} bytes; at most {max_bytes} are served")
    filename = _filename(row)
    if row.source == "amplience":
        media_type = "application/json"
    else:
        media_type = row.mime_type or "application/octet-stream"
    docstore = api_context(request).store
    if row.sha256 and row.source == "ecm":
        ref = DocumentRef(
            key=content_key(row.sha256),
            sha256=row.sha256,
            size=row.size or 0,
            filename=filename,
            content_type=media_type,
            version=min(row.version, 1000),
        )
        try:
            if await docstore.exists(ref):
                return Content(await docstore.get(ref), row.sha256, filename, media_type)
        except (DocumentNotFoundError, DocumentIntegrityError, ValueError):
            log.warning("cached copy of %s v%s unusable; fetching", row.object_id, row.version)
    data = await _fetch(request, row)
    if len(data) > max_bytes:
        raise ContentTooLarge(f"the content has {len(data)} bytes; at most {max_bytes} are served")
    sha = hashlib.sha256(data).hexdigest()
    if row.sha256 and sha != row.sha256:
        log.error(
            "%s %s v%s: bytes %s differ from the approved %s",
            row.source,
            row.object_id,
            row.version,
            sha,
            row.sha256,
        )
        raise ContentUnavailable("the stored content does not match the approved version's hash")
    if row.source == "ecm":
        await docstore.put(data, filename=filename, content_type=media_type, version=1)
    if not row.sha256 or row.size != len(data):
        await asyncio.to_thread(
            store.set_version_digest, row.source, row.object_id, row.version, sha, len(data)
        )
    return Content(data, sha, filename, media_type)


async def _fetch(request: Request, row: ApprovedVersionRow) -> bytes:
    reader = content_reader(request)
    try:
        if row.source == "ecm":
            return await reader.ecm_version(int(row.object_id), row.version)
        return await reader.amplience_version(row.object_id, row.version)
    except NotFoundError as exc:
        raise ContentUnavailable(f"{row.source} no longer has version {row.version}") from exc
    except (PermanentServiceError, RetryableServiceError, httpx.HTTPError) as exc:
        log.warning("reading %s %s v%s failed: %s", row.source, row.object_id, row.version, exc)
        raise ContentUnavailable(f"{row.source} did not answer; retry later") from exc


# --------------------------------------------------------------- responses
def etag_of(sha256: str) -> str:
    return f'"{sha256}"'


def _matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def content_response(
    request: Request,
    content: Content,
    *,
    part_of: tuple[tuple[int, int], int] | None = None,
) -> Response:
    """200 / 206 / 304 with ETag, Repr-Digest, Content-Disposition; 416 raised. `part_of`:
    the content is already the range (start, end) of a representation of that size."""
    etag = etag_of(content.sha256)
    digest = base64.b64encode(bytes.fromhex(content.sha256)).decode()
    headers = {
        "ETag": etag,
        "Repr-Digest": f"sha-256=:{digest}:",
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-cache",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(content.filename)}",
        "X-Content-Type-Options": "nosniff",
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control")})
    if part_of is not None:
        (start, end), size = part_of
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Response(
            content.data, status_code=206, media_type=content.media_type, headers=headers
        )
    size = len(content.data)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted is not None and (if_range is None or if_range.strip() == etag):
        span = _single_range(wanted, size)
        if span is not None:
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return Response(
                content.data[start : end + 1],
                status_code=206,
                media_type=content.media_type,
                headers=headers,
            )
    return Response(content.data, media_type=content.media_type, headers=headers)


async def serve_approved(
    request: Request, store: RecordStore, row: ApprovedVersionRow, max_bytes: int
) -> Response:
    """The approved version's answer; a revalidation against a known hash (`If-None-Match`)
    is answered 304 without reading the content at all."""
    if_none_match = request.headers.get("if-none-match")
    if row.sha256 and if_none_match is not None and _matches(if_none_match, etag_of(row.sha256)):
        headers = {"ETag": etag_of(row.sha256), "Cache-Control": "private, no-cache"}
        return Response(status_code=304, headers=headers)
    ranged = await _cached_range(request, row)
    if ranged is not None:
        return ranged
    return content_response(request, await approved_content(request, store, row, max_bytes))


async def _cached_range(request: Request, row: ApprovedVersionRow) -> Response | None:
    """A single range of a cached ECM version whose hash and size are known: read from the
    document store alone (it was verified whole when cached), so a client fetching a large
    file in parts costs each part, not the whole file each time. None: the general path."""
    wanted, if_range = request.headers.get("range"), request.headers.get("if-range")
    if wanted is None or row.source != "ecm" or not row.sha256 or not row.size:
        return None
    if if_range is not None and if_range.strip() != etag_of(row.sha256):
        return None
    span = _single_range(wanted, row.size)
    if span is None:
        return None
    filename = _filename(row)
    ref = DocumentRef(
        key=content_key(row.sha256),
        sha256=row.sha256,
        size=row.size,
        filename=filename,
        content_type=row.mime_type or "application/octet-stream",
        version=min(row.version, 1000),
    )
    try:
        part = await api_context(request).store.read_range(ref, *span)
    except (DocumentNotFoundError, ValueError, OSError):
        return None  # not cached (yet): the general path fetches and caches it
    if len(part) != span[1] - span[0] + 1:
        return None
    return content_response(
        request, Content(part, row.sha256, filename, ref.content_type), part_of=(span, row.size)
    )


def _single_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of one `bytes=` range; None to ignore the header (several ranges
    or another unit: the whole content is answered, as RFC 9110 allows); 416 if it lies
    outside the content."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"the range lies outside the content ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}"},
    )


# --------------------------------------------------------------- lookups
async def latest_approved(
    store: RecordStore, source: ContentSource, object_id: str
) -> ApprovedVersionRow | None:
    row = await asyncio.to_thread(store.latest_approved, source, object_id)
    return row if row is not None and row.superseded_at is None else None


async def exact_version(
    store: RecordStore, source: ContentSource, object_id: str, version: int
) -> ApprovedVersionRow | None:
    """The approved version, or None; Gone if it was superseded."""
    row = await asyncio.to_thread(store.approved_version, source, object_id, version)
    if row is not None and row.superseded_at is not None:
        raise Gone(f"version {version} of {object_id} was superseded by a newer approved version")
    return row


def not_found(source: ContentSource, object_id: str, version: int | None = None) -> NotFound:
    what = "document" if source == "ecm" else "content item"
    at = f" version {version}" if version is not None else ""
    return NotFound(f"no approved {what} {object_id}{at}")


# ------------------------------------------------------------ portal auth
async def log_refusal(request: Request, who: str, error: ApiError) -> None:
    """`require(...)`'s refusals (no or a bad credential, no scope) into the access log."""
    store = await asyncio.to_thread(store_for, request.app.state, api_context(request).settings)
    source = "amplience" if "/content/" in request.url.path else "ecm"
    detail = f"{request.method} {request.url.path}"
    await AccessLog.of(request, store).refuse(who, error, source=source, detail=detail)


@dataclass(frozen=True)
class PortalCaller:
    principal: Principal
    entitlements: Entitlements
    access: ReadAccess
    log: AccessLog


async def portal_caller(
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CONTENT_READ, refused=log_refusal))],
    audit: Annotated[AccessLog, Depends(access_log)],
) -> PortalCaller:
    """A principal with `content:read`: all approved content unless read-access.json lists it
    under `portals` with narrower entitlements."""
    access = await read_access(request)
    portal = access.portal(principal.subject)
    entitlements = portal.entitlements if portal else Entitlements(everything=True)
    return PortalCaller(principal, entitlements, access, audit)


Caller = Annotated[PortalCaller, Depends(portal_caller)]
Store = Annotated[RecordStore, Depends(get_store)]


async def _serve(
    request: Request,
    caller: PortalCaller,
    store: RecordStore,
    source: ContentSource,
    object_id: str,
    find: Callable[[], Awaitable[ApprovedVersionRow | None]],
    version: int | None,
) -> Response:
    who = caller.principal.subject
    try:
        row = await find()
        if row is None or not caller.entitlements.allows(row):
            raise not_found(source, object_id, version)
        response = await serve_approved(request, store, row, caller.access.max_content_bytes)
    except ApiError as exc:
        raise await caller.log.refuse(
            who, exc, source=source, object_id=object_id, version=version
        ) from None
    await caller.log.record(
        who,
        "read",
        source=source,
        object_id=object_id,
        version=row.version,
        outcome="ok" if response.status_code != 304 else "not_modified",
        detail=f"{response.status_code} portal",
    )
    return response


# ------------------------------------------------------------------ routes
@router.get(
    "/documents/{node_id}",
    tags=["approved content"],
    summary="The latest approved version of an ECM document",
    description="Never a newer version awaiting approval, never a superseded one. Strong "
    "`ETag` (SHA-256), `If-None-Match` → 304, single `Range` → 206 / 416.",
    response_class=Response,
    responses={**_CONTENT_RESPONSES, **error_responses(401, 403, 404, 422, 503)},
)
async def portal_document(
    request: Request, node_id: NodeId, caller: Caller, store: Store
) -> Response:
    key = str(node_id)
    return await _serve(
        request, caller, store, "ecm", key, lambda: latest_approved(store, "ecm", key), None
    )


@router.get(
    "/documents/{node_id}/versions/{version}",
    tags=["approved content"],
    summary="One approved version of an ECM document (410 once superseded)",
    response_class=Response,
    responses={**_CONTENT_RESPONSES, **error_responses(401, 403, 404, 422, 503)},
)
async def portal_document_version(
    request: Request, node_id: NodeId, version: VersionNo, caller: Caller, store: Store
) -> Response:
    key = str(node_id)
    return await _serve(
        request,
        caller,
        store,
        "ecm",
        key,
        lambda: exact_version(store, "ecm", key, version),
        version,
    )


@router.get(
    "/content/{item_id}",
    tags=["approved content"],
    summary="The latest approved version of an Amplience content item (its JSON)",
    response_class=Response,
    responses={**_CONTENT_RESPONSES, **error_responses(401, 403, 404, 422, 503)},
)
async def portal_content(
    request: Request, item_id: ItemId, caller: Caller, store: Store
) -> Response:
    return await _serve(
        request,
        caller,
        store,
        "amplience",
        item_id,
        lambda: latest_approved(store, "amplience", item_id),
        None,
    )


@router.get(
    "/content/{item_id}/versions/{version}",
    tags=["approved content"],
    summary="One approved version of an Amplience content item (410 once superseded)",
    response_class=Response,
    responses={**_CONTENT_RESPONSES, **error_responses(401, 403, 404, 422, 503)},
)
async def portal_content_version(
    request: Request, item_id: ItemId, version: VersionNo, caller: Caller, store: Store
) -> Response:
    return await _serve(
        request,
        caller,
        store,
        "amplience",
        item_id,
        lambda: exact_version(store, "amplience", item_id, version),
        version,
    )


OPENAPI_MODELS: list[type[BaseModel]] = []
