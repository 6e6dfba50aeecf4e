"""Controlled external access under /v1/partner and /v1/links: suppliers, auditors, customers
and distributors (the parties of `read-access.json`).

A party authenticates like every caller (`X-API-Key` or `Authorization: Bearer`: its API key
or an OIDC token) with scope `partner` and the subject read-access.json names for it; it
lists the approved documents its entitlements name (latest versions, with SHA-256), downloads
them, mints expiring links bound to itself and one version, and uploads into its inbox folder
of a workspace — and sees nothing else: whatever lies outside its entitlements does not exist
for it (404). A link downloads with no other credential, and is refused (JSON error) when
forged, expired, presented by another party, or when its version was superseded (410).
Uploads are filed in Content Server by the `PartnerInboxFiling` workflow (the
`file_document` activity, into the inbox folder itself); an inbox named by business object
and folder path (`POST /v1/partner/inboxes/{name}`: no ids needed) is resolved by the
workflow's `resolve_inbox` activity when it files. Every access and refusal is written to the
access log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from activities.content_server.inbox import InboxFilingInput, InboxLocation
from docflow import search_attributes as sa
from docflow.config.read_access import INBOX_NAME_PATTERN, Entitlements, Inbox, Party, ReadAccess
from docflow.config.workspaces import category_values
from docflow.filetypes import DOC, DOCX, PDF, DocumentTypeError, check_document, safe_filename
from docflow.models.ecm_requests import REQUEST_ID_PATTERN
from docflow.models.records import ApprovedVersionRow, ContentSource
from docflow.models.workspaces import FiledDocument
from docflow.partner_links import ExpiredLink, ForgedLink, LinkClaims, PartnerLinks
from docflow.records.store import RecordStore
from docflow.settings import Settings
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedDocument,
    error_responses,
    validation_error,
)
from starter.api.records_store import get_store
from starter.api.routes.portal import (
    ITEM_ID_PATTERN,
    MAX_VERSION,
    AccessLog,
    Gone,
    access_log,
    approved_content,
    content_response,
    exact_version,
    latest_approved,
    log_refusal,
    not_found,
    read_access,
    refusal,
    serve_approved,
)
from starter.api.uploads import file_part, json_body, json_request_body, text_part
from starter.processes.base import ProcessClient

log = logging.getLogger("docflow.api")
router = APIRouter()

MAX_LIST = 200
MAX_METADATA_VALUE = 2000
_KINDS = {"pdf": PDF, "docx": DOCX, "doc": DOC}
_OBJECT_ID = re.compile(ITEM_ID_PATTERN)
Source = Annotated[ContentSource, Path(examples=["ecm"])]
ObjectId = Annotated[str, Path(pattern=ITEM_ID_PATTERN, examples=["41234"])]
WorkspaceId = Annotated[int, Path(ge=1, le=2**53, examples=[30001])]
RequestId = Annotated[str, Path(pattern=REQUEST_ID_PATTERN, examples=["UP-1001"])]
InboxName = Annotated[str, Path(pattern=INBOX_NAME_PATTERN, examples=["supplier-inbox"])]
Token = Annotated[str, Path(min_length=16, max_length=2048)]


# ------------------------------------------------------------------ models
class PartnerDocument(BaseModel):
    """An approved version a party may read."""

    source: ContentSource
    object_id: str
    version: int
    name: str
    mime_type: str
    sha256: str = Field(description="'' until the content was first read.")
    size: int | None = None
    document_type: str
    workspace_id: int | None = None
    approved_at: datetime
    content_url: str


class PartnerDocuments(BaseModel):
    items: list[PartnerDocument]
    next_cursor: str | None = None


class LinkRequest(BaseModel):
    """A download link for one approved version (the latest unless `version` is named)."""

    source: ContentSource = "ecm"
    object_id: str = Field(pattern=ITEM_ID_PATTERN, examples=["41234"])
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    ttl_seconds: int | None = Field(
        default=None, ge=60, description="Default and maximum from read-access.json."
    )


class PartnerLink(BaseModel):
    url: str
    token: str
    party: str
    source: ContentSource
    object_id: str
    version: int
    sha256: str
    expires_at: datetime


class InboxUpload(BaseModel):
    request_id: str
    status: Literal["filed", "filing"]
    status_url: str
    inbox: str | None = Field(default=None, description="The inbox's name, if it has one.")
    workspace_id: int | None = Field(default=None, description="None: by business object.")
    folder_id: int | None = Field(default=None, description="None until filed, by path.")
    business_object: str | None = Field(default=None, examples=["SAP/Supplier/V-1001"])
    folder: str | None = Field(default=None, examples=["Inbox/From supplier"])
    document: FiledDocument | None = None


OPENAPI_MODELS: list[type[BaseModel]] = [LinkRequest]

_INBOX_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "request_id"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "request_id": {"type": "string", "pattern": REQUEST_ID_PATTERN},
                        "metadata": {
                            "type": "string",
                            "description": 'JSON {"<field>": value}: the inbox\'s required '
                            "and optional fields (read-access.json).",
                        },
                    },
                }
            }
        },
    }
}


# --------------------------------------------------------------- filing
class InboxFiling(Protocol):
    """Files an upload durably; `None` while it still runs."""

    async def file(
        self, key: str, item: InboxFilingInput, wait: timedelta
    ) -> FiledDocument | None: ...

    async def result(self, key: str, wait: timedelta) -> FiledDocument | None: ...


class PartnerUploads(ProcessClient):
    """The `PartnerInboxFiling` workflow, one per (party, request id)."""

    workflow_type = "PartnerInboxFiling"
    process_name = "partner upload"

    def workflow_id(self, key: str) -> str:
        return f"partner-inbox-{key}"

    def fingerprint(self, arg: BaseModel) -> dict[str, str]:
        return {}

    async def file(self, key: str, item: InboxFilingInput, wait: timedelta) -> FiledDocument | None:
        await self.start_process(
            key,
            item,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, key),
                    SearchAttributePair(sa.DOCUMENT_TYPE, "partner_upload"),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                ]
            ),
            static_summary=f"Partner upload {key} into {item.where}",
        )
        return await self.result(key, wait)

    async def result(self, key: str, wait: timedelta) -> FiledDocument | None:
        handle = self.client.get_workflow_handle(self.workflow_id(key), result_type=FiledDocument)
        try:
            return await asyncio.wait_for(handle.result(), wait.total_seconds())
        except TimeoutError:
            return None
        except Exception as exc:
            self.fail(exc, key)


class TemporalInbox:
    def __init__(self, client: Client, settings: Settings) -> None:
        self._uploads = PartnerUploads(client, settings)

    async def file(self, key: str, item: InboxFilingInput, wait: timedelta) -> FiledDocument | None:
        return await self._uploads.file(key, item, wait)

    async def result(self, key: str, wait: timedelta) -> FiledDocument | None:
        return await self._uploads.result(key, wait)


async def inbox_filing(request: Request) -> InboxFiling:
    """The app's filing (tests set `app.state.partner_inbox`); Temporal otherwise."""
    found: InboxFiling | None = getattr(request.app.state, "partner_inbox", None)
    if found is not None:
        return found
    context = api_context(request)
    return TemporalInbox(await context.temporal.client(), context.settings)


# ------------------------------------------------------------------ auth
@dataclass(frozen=True)
class PartyCaller:
    """An authenticated `partner` principal and the party it is (None: entitled to nothing)."""

    principal: Principal
    party: Party | None
    access: ReadAccess
    log: AccessLog

    @property
    def id(self) -> str:
        return self.party.id if self.party else self.principal.subject

    @property
    def entitlements(self) -> Entitlements:
        return self.party.entitlements if self.party else Entitlements()

    def inbox(self, workspace_id: int) -> Inbox | None:
        return self.party.inbox(workspace_id) if self.party else None

    def inbox_named(self, name: str) -> Inbox | None:
        return self.party.inbox_named(name) if self.party else None


async def party_caller(
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.PARTNER, refused=log_refusal))],
    audit: Annotated[AccessLog, Depends(access_log)],
) -> PartyCaller:
    access = await read_access(request)
    return PartyCaller(principal, access.party_of(principal.subject), access, audit)


async def _presenter(request: Request, access: ReadAccess) -> str | None:
    """The party whose credential accompanies a link, if one does (any other: None)."""
    api_key = request.headers.get("x-api-key")
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else ""
    if not api_key and not token:
        return None
    try:
        principal = await api_context(request).auth.authenticate(api_key, token or None)
    except ApiError:
        return None
    party = access.party_of(principal.subject)
    return party.id if party else None


Caller = Annotated[PartyCaller, Depends(party_caller)]
Store = Annotated[RecordStore, Depends(get_store)]


def _base(request: Request) -> str:
    return api_context(request).settings.api.public_url.rstrip("/")


def _check_id(source: ContentSource, object_id: str) -> None:
    if not _OBJECT_ID.match(object_id) or (source == "ecm" and not object_id.isdigit()):
        raise InvalidRequest(f"{object_id!r} is not a {source} id")


async def _entitled_version(
    caller: PartyCaller,
    store: RecordStore,
    source: ContentSource,
    object_id: str,
    version: int | None,
) -> ApprovedVersionRow:
    """The approved version the party may read (latest unless named); 404 / 410."""
    _check_id(source, object_id)
    if version is None:
        row = await latest_approved(store, source, object_id)
    else:
        row = await exact_version(store, source, object_id, version)
    if row is None or not caller.entitlements.allows(row):
        raise not_found(source, object_id, version)
    return row


# ------------------------------------------------------------------ listing
@router.get(
    "/v1/partner/documents",
    tags=["partners"],
    summary="The approved documents your party may read (latest versions, with SHA-256)",
    response_model=PartnerDocuments,
    responses=error_responses(401, 403, 422),
)
async def list_documents(
    request: Request,
    caller: Caller,
    store: Store,
    source: Annotated[ContentSource, Query()] = "ecm",
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PartnerDocuments:
    entitled = caller.entitlements
    if source == "ecm":
        broad = entitled.folder_ids or entitled.business_objects or entitled.everything
        workspaces = None if broad else entitled.workspace_ids
        types = entitled.document_types or None
    else:
        workspaces, types = None, entitled.content_types
    items: list[PartnerDocument] = []
    next_cursor: str | None = None
    nothing = source == "ecm" and workspaces == []
    if not (nothing or (source == "amplience" and not types and not entitled.everything)):
        page = await asyncio.to_thread(
            store.approved_versions,
            source,
            workspace_ids=workspaces,
            document_types=None if entitled.everything else types,
            limit=limit,
            cursor=cursor,
        )
        next_cursor = page.next_cursor
        base = _base(request)
        items = [
            PartnerDocument(
                source=row.source,
                object_id=row.object_id,
                version=row.version,
                name=row.name,
                mime_type=row.mime_type,
                sha256=row.sha256,
                size=row.size,
                document_type=row.document_type,
                workspace_id=row.workspace_id,
                approved_at=row.approved_at,
                content_url=f"{base}/v1/partner/documents/{row.source}/{row.object_id}/content",
            )
            for row in page.items
            if row.superseded_at is None and entitled.allows(row)
        ]
    await caller.log.record(
        caller.id, "read", source=source, detail=f"listed {len(items)} documents"
    )
    return PartnerDocuments(items=items, next_cursor=next_cursor)


@router.get(
    "/v1/partner/documents/{source}/{object_id}/content",
    tags=["partners"],
    summary="Download the latest approved version of a document your party may read",
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
)
async def download_document(
    request: Request, source: Source, object_id: ObjectId, caller: Caller, store: Store
) -> Response:
    party = caller.id
    try:
        row = await _entitled_version(caller, store, source, object_id, None)
        response = await serve_approved(request, store, row, caller.access.max_content_bytes)
    except ApiError as exc:
        raise await caller.log.refuse(party, exc, source=source, object_id=object_id) from None
    await caller.log.record(
        party,
        "download",
        source=source,
        object_id=object_id,
        version=row.version,
        detail=str(response.status_code),
    )
    return response


# --------------------------------------------------------------------- links
def _links(request: Request) -> PartnerLinks:
    settings = api_context(request).settings
    return PartnerLinks(settings.secret(settings.records.link_key), settings.api.public_url)


@router.post(
    "/v1/partner/links",
    tags=["partners"],
    summary="An expiring download link for one approved version, bound to your party",
    status_code=201,
    response_model=PartnerLink,
    responses=error_responses(401, 403, 404, 422),
    openapi_extra=json_request_body("LinkRequest"),
)
async def create_link(request: Request, caller: Caller, store: Store) -> PartnerLink:
    party = caller.id
    try:
        body = await json_body(request, LinkRequest)
    except RequestValidationError as exc:
        await caller.log.refuse(party, validation_error(exc.errors()), detail="link request")
        raise
    policy = caller.access.links
    try:
        ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else policy.default_ttl
        if ttl > policy.max_ttl:
            raise InvalidRequest(
                f"ttl_seconds: at most {int(policy.max_ttl.total_seconds())} seconds"
            )
        row = await _entitled_version(caller, store, body.source, body.object_id, body.version)
        sha = row.sha256
        if not sha:  # learn the hash now: a link always names the bytes it gives
            sha = (
                await approved_content(request, store, row, caller.access.max_content_bytes)
            ).sha256
    except ApiError as exc:
        raise await caller.log.refuse(
            party, exc, source=body.source, object_id=body.object_id, version=body.version
        ) from None
    links = _links(request)
    claims = LinkClaims(
        party=party,
        source=row.source,
        object_id=row.object_id,
        version=row.version,
        sha256=sha,
        expires_at=(datetime.now(UTC) + ttl).replace(microsecond=0),
        nonce=PartnerLinks.new_nonce(),
    )
    token = links.mint(claims)
    await caller.log.record(
        party,
        "link_created",
        source=row.source,
        object_id=row.object_id,
        version=row.version,
        detail=f"expires {claims.expires_at.isoformat()}",
    )
    return PartnerLink(
        url=links.url(token),
        token=token,
        party=party,
        source=row.source,
        object_id=row.object_id,
        version=row.version,
        sha256=sha,
        expires_at=claims.expires_at,
    )


@router.get(
    "/v1/links/{token}",
    tags=["partners"],
    summary="Download with a partner link (no other credential needed)",
    description="Refused with a JSON error when the link was altered (403 `invalid_link`), "
    "expired (410 `link_expired`), is presented with another party's credential (403 "
    "`wrong_party`), or its version was superseded (410 `version_superseded`).",
    response_class=Response,
    responses=error_responses(403, 404, 422),
)
async def follow_link(
    request: Request,
    token: Token,
    store: Store,
    audit: Annotated[AccessLog, Depends(access_log)],
) -> Response:
    try:
        claims = _links(request).verify(token)
    except ForgedLink as exc:
        raise await audit.refuse(
            "anonymous", refusal(403, exc.code, str(exc)), detail="forged link"
        ) from None
    except ExpiredLink as exc:
        c = exc.claims
        raise await audit.refuse(
            c.party,
            refusal(410, exc.code, str(exc)),
            source=c.source,
            object_id=c.object_id,
            version=c.version,
        ) from None
    where = {"source": claims.source, "object_id": claims.object_id, "version": claims.version}
    access = await read_access(request)
    presenter = await _presenter(request, access)
    try:
        if presenter is not None and presenter != claims.party:
            raise refusal(403, "wrong_party", "this link was issued to another party")
        party = access.party(claims.party)
        if party is None:
            raise refusal(403, "link_revoked", "the party of this link no longer has access")
        row = await exact_version(store, claims.source, claims.object_id, claims.version)
        if row is None or not party.entitlements.allows(row):
            raise refusal(403, "link_revoked", "this link's document is no longer shared with you")
        if row.sha256 and row.sha256 != claims.sha256:
            raise Gone("the approved content changed since this link was issued")
        content = await approved_content(request, store, row, access.max_content_bytes)
        if content.sha256 != claims.sha256:
            raise Gone("the approved content changed since this link was issued")
        response = content_response(request, content)
    except ApiError as exc:
        who = presenter if presenter is not None and exc.code == "wrong_party" else claims.party
        raise await audit.refuse(who, exc, detail=f"link of {claims.party}", **where) from None
    await audit.record(claims.party, "download", detail=f"link {response.status_code}", **where)
    return response


# --------------------------------------------------------------------- inbox
def _metadata(raw: str | None, inbox: Inbox) -> dict[str, str]:
    """The upload's metadata: every required field, no unknown field (422 naming them)."""
    try:
        given = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        given = None
    if not isinstance(given, dict) or not all(
        isinstance(v, str | int | float | bool) for v in given.values()
    ):
        raise InvalidRequest('metadata must be a JSON object {"<field>": value}')
    values = {str(k): str(v).strip() for k, v in given.items()}
    allowed = set(inbox.required_metadata) | set(inbox.optional_metadata)
    problems = []
    unknown = sorted(set(values) - allowed)
    if unknown:
        problems.append(f"unknown fields {', '.join(unknown)}")
    missing = sorted(f for f in inbox.required_metadata if not values.get(f))
    if missing:
        problems.append(f"missing required fields {', '.join(missing)}")
    long = sorted(f for f, v in values.items() if len(v) > MAX_METADATA_VALUE)
    if long:
        problems.append(f"at most {MAX_METADATA_VALUE} characters: {', '.join(long)}")
    if problems:
        raise InvalidRequest("metadata: " + "; ".join(problems))
    return values


def _category_values(inbox: Inbox, values: dict[str, str]) -> dict[str, str]:
    """Attribute id → value (the filing activity makes Content Server's `<cat>_<attr>`)."""
    if inbox.category_id is None:
        return {}
    return category_values({**inbox.required_metadata, **inbox.optional_metadata}, values)


def _status_url(request: Request, inbox: Inbox, request_id: str) -> str:
    if inbox.name is not None:
        return f"{_base(request)}/v1/partner/inboxes/{inbox.name}/uploads/{request_id}"
    return f"{_base(request)}/v1/partner/inbox/{inbox.workspace_id}/uploads/{request_id}"


def _upload_status(
    request: Request, request_id: str, inbox: Inbox, filed: FiledDocument | None
) -> InboxUpload:
    return InboxUpload(
        request_id=request_id,
        status="filing" if filed is None else "filed",
        status_url=_status_url(request, inbox, request_id),
        inbox=inbox.name,
        workspace_id=inbox.workspace_id,
        folder_id=filed.folder_id if filed is not None else inbox.folder_id,
        business_object=inbox.business_object.key if inbox.business_object else None,
        folder="/".join(inbox.folder_path) or None,
        document=filed,
    )


def _location(inbox: Inbox) -> InboxLocation | None:
    bo = inbox.business_object
    if bo is None:
        return None
    return InboxLocation(
        ext_system_id=bo.ext_system_id, bo_type=bo.bo_type, bo_id=bo.bo_id, folder=inbox.folder_path
    )


async def _receive(
    request: Request,
    caller: PartyCaller,
    filing: InboxFiling,
    inbox: Inbox | None,
    missing: str,
    object_id: str,
) -> JSONResponse:
    """Check and store one upload, file it into the inbox folder (201 filed, 202 filing)."""
    party = caller.id
    where = {"source": "ecm", "object_id": object_id}
    context = api_context(request)
    try:
        if inbox is None:
            raise NotFound(missing)
        limit = min(inbox.max_bytes, context.settings.api.max_upload_bytes)
        async with request.form(max_files=1, max_fields=5) as form:
            request_id = await text_part(form, "request_id") or ""
            if not re.fullmatch(REQUEST_ID_PATTERN, request_id):
                raise InvalidRequest(f"'request_id' must match {REQUEST_ID_PATTERN}")
            values = _metadata(await text_part(form, "metadata"), inbox)
            part = file_part(form)
            data = await part.read(limit + 1)
            if len(data) > limit:
                raise PayloadTooLarge(f"the document exceeds this inbox's {limit} bytes")
            if not data:
                raise InvalidRequest("the uploaded document is empty")
            filename = safe_filename(part.filename or "")
            try:
                content_type = check_document(data, filename, part.content_type or "")
            except DocumentTypeError as exc:
                raise UnsupportedDocument(str(exc)) from exc
            allowed = {_KINDS[k].content_type for k in inbox.allowed_types}
            if content_type not in allowed:
                kinds = ", ".join(inbox.allowed_types)
                raise UnsupportedDocument(f"this inbox accepts {kinds} documents only")
        document = await context.store.put(data, filename=filename, content_type=content_type)
        item = InboxFilingInput(
            # Its own node per upload: a party never adds a version to a document someone
            # else (or its own earlier upload) put in the folder.
            name=safe_filename(f"{party} {request_id} - {filename}"),
            document=document,
            category_id=inbox.category_id,
            category_values=_category_values(inbox, values),
            folder_id=inbox.folder_id,  # the inbox folder itself: never another one
            location=_location(inbox),
        )
        filed = await filing.file(f"{party}-{request_id}", item, timedelta(seconds=20))
    except ApiError as exc:
        raise await caller.log.refuse(party, exc, **where) from None
    await caller.log.record(
        party,
        "upload",
        source="ecm",
        object_id=str(filed.node_id) if filed else object_id,
        version=filed.version if filed else None,
        outcome="ok" if filed else "filing",
        detail=f"{filename} ({document.sha256}) into {inbox.label}",
    )
    answer = _upload_status(request, request_id, inbox, filed)
    return JSONResponse(
        answer.model_dump(mode="json"),
        status_code=201 if filed else 202,
        headers={"Location": answer.status_url},
    )


_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": InboxUpload, "description": "Still filing: see status_url."},
    **error_responses(401, 403, 404, 413, 415, 422, 503),
}


@router.post(
    "/v1/partner/inbox/{workspace_id}",
    tags=["partners"],
    summary="Upload a document into your party's inbox folder of a workspace",
    description="Multipart: `file` (type by its bytes, size), `request_id` (your "
    "idempotency key) and `metadata` (the inbox's required fields). Filed into the inbox "
    "folder only: 201 once filed, 202 with `status_url` while filing.",
    status_code=201,
    response_model=InboxUpload,
    responses=_UPLOAD_RESPONSES,
    openapi_extra=_INBOX_BODY,
)
async def upload(
    request: Request,
    workspace_id: WorkspaceId,
    caller: Caller,
    filing: Annotated[InboxFiling, Depends(inbox_filing)],
) -> JSONResponse:
    return await _receive(
        request,
        caller,
        filing,
        caller.inbox(workspace_id),
        f"no inbox for you in workspace {workspace_id}",
        str(workspace_id),
    )


@router.post(
    "/v1/partner/inboxes/{inbox_name}",
    tags=["partners"],
    summary="Upload a document into one of your party's inboxes, by its name",
    description="As `POST /v1/partner/inbox/{workspace_id}`, the inbox named in "
    "read-access.json: no ids needed. An inbox by business object and folder path is "
    "resolved in Content Server when the upload is filed.",
    status_code=201,
    response_model=InboxUpload,
    responses=_UPLOAD_RESPONSES,
    openapi_extra=_INBOX_BODY,
)
async def upload_named(
    request: Request,
    inbox_name: InboxName,
    caller: Caller,
    filing: Annotated[InboxFiling, Depends(inbox_filing)],
) -> JSONResponse:
    return await _receive(
        request,
        caller,
        filing,
        caller.inbox_named(inbox_name),
        f"no inbox {inbox_name!r} for you",
        f"inbox:{inbox_name}",
    )


@router.get(
    "/v1/partner/inbox/{workspace_id}/uploads/{request_id}",
    tags=["partners"],
    summary="How one of your uploads fared",
    response_model=InboxUpload,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def upload_status(
    request: Request,
    workspace_id: WorkspaceId,
    request_id: RequestId,
    caller: Caller,
    filing: Annotated[InboxFiling, Depends(inbox_filing)],
) -> InboxUpload:
    found = caller.inbox(workspace_id)
    return await _status_in(
        request, caller, filing, found, request_id, f"no inbox for you in workspace {workspace_id}"
    )


@router.get(
    "/v1/partner/inboxes/{inbox_name}/uploads/{request_id}",
    tags=["partners"],
    summary="How one of your uploads into a named inbox fared",
    response_model=InboxUpload,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def named_upload_status(
    request: Request,
    inbox_name: InboxName,
    request_id: RequestId,
    caller: Caller,
    filing: Annotated[InboxFiling, Depends(inbox_filing)],
) -> InboxUpload:
    found = caller.inbox_named(inbox_name)
    return await _status_in(
        request, caller, filing, found, request_id, f"no inbox {inbox_name!r} for you"
    )


async def _status_in(
    request: Request,
    caller: PartyCaller,
    filing: InboxFiling,
    inbox: Inbox | None,
    request_id: str,
    missing: str,
) -> InboxUpload:
    """An upload's status in one of the caller's inboxes (another's: 404, logged)."""
    if inbox is None:
        raise await caller.log.refuse(caller.id, NotFound(missing))
    filed = await filing.result(f"{caller.id}-{request_id}", timedelta(seconds=1))
    return _upload_status(request, request_id, inbox, filed)
