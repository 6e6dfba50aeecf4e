"""Activities that read a case's items from its configured sources (`case-sources.json`).

Endpoints and keys come from the bundle (a source's `endpoint` may be moved by
`settings.case_sources.endpoints`, never outside its allowed hosts), never from the request.
Bytes go to the document store; what crosses into history is `CaseItem`s with references.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.case_sources.client import CLIENTS, CONTENT_TYPES, SourceClient
from activities.http.error_mapping import current_bundle, external_call
from docflow.config.bundle import Bundle, BundleReader, bundle_reader
from docflow.config.cases import plan_case
from docflow.config.source_systems import endpoint_problem
from docflow.config.workspaces import CaseSource, CaseSources, WorkspaceMappings
from docflow.docstore import DocumentStore
from docflow.models.workspaces import (
    CaseItem,
    CaseItemsPage,
    CasePlan,
    CaseRequest,
    FetchCaseItems,
    ListCaseItems,
)
from docflow.secrets import SecretResolutionError
from docflow.settings import Settings

# A page handed to the workflow holds at most this many items, however many attachments the
# source's messages have (the rest of the source's page follows under the next cursor).
MAX_PAGE_ITEMS = 100
_CURSOR_PREFIX = "v1."


@dataclass(frozen=True)
class Position:
    """Where a listing stands: the source's own cursor and how many of the items of that
    source page were handed out already (an e-mail's attachments can overflow a page)."""

    cursor: str | None = None
    skip: int = 0

    def encode(self) -> str:
        raw = json.dumps({"c": self.cursor, "s": self.skip}, separators=(",", ":")).encode()
        return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Position:
        if not value:
            return cls()
        try:
            if not value.startswith(_CURSOR_PREFIX):
                raise ValueError("unknown cursor version")
            body = value[len(_CURSOR_PREFIX) :]
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            cursor, skip = data["c"], int(data["s"])
            if (cursor is not None and not isinstance(cursor, str)) or skip < 0:
                raise ValueError("malformed cursor")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ApplicationError(
                f"not a cursor of list_case_items: {value[:80]!r}",
                type="InvalidCursor",
                non_retryable=True,
            ) from exc
        return cls(cursor, skip)


class CaseSourceActivities:
    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        store: DocumentStore,
        *,
        config: BundleReader | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._store = store
        self._config = config or bundle_reader(settings)

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, store: DocumentStore
    ) -> CaseSourceActivities:
        """The activities on the shared pool, reading this environment's bundle."""
        return cls(settings, http, store)

    # ------------------------------------------------------------ activities
    @activity.defn(name="plan_case")
    async def plan_case(self, request: CaseRequest) -> CasePlan:
        """The case type and sources as this environment configures them, or every reason
        the case cannot be assembled; with the bundle's version."""
        bundle = await self._bundle()
        plan = plan_case(
            bundle.get(WorkspaceMappings),
            bundle.get(CaseSources),
            request,
            config_version=bundle.version,
        )
        activity.logger.info(
            "case %s/%s (bundle %s): %s",
            request.case_type,
            request.case_id,
            bundle.version,
            "sources " + ", ".join(s.source for s in plan.sources)
            if plan.accepted
            else "refused: " + "; ".join(plan.reasons),
        )
        return plan

    @activity.defn(name="list_case_items")
    async def list_case_items(self, request: ListCaseItems) -> CaseItemsPage:
        """One page of a source's items for a case reference (no content)."""
        client, entry = await self._client(request.source)
        position = Position.decode(request.cursor)
        limit = min(entry.page_size, MAX_PAGE_ITEMS)
        with external_call(f"list {request.source} items of case {request.case_reference}"):
            page = await client.list_page(request.case_reference, position.cursor, limit)
        items = page.items[position.skip :]
        if len(items) > MAX_PAGE_ITEMS:
            next_position: Position | None = Position(
                position.cursor, position.skip + MAX_PAGE_ITEMS
            )
            items = items[:MAX_PAGE_ITEMS]
        elif page.next_cursor and page.next_cursor != position.cursor:
            next_position = Position(page.next_cursor)
        else:  # the end (a source repeating its cursor would otherwise never end)
            next_position = None
        activity.logger.info(
            "listed %d %s items of case %s%s",
            len(items),
            request.source,
            request.case_reference,
            "" if next_position else " (last page)",
        )
        return CaseItemsPage(
            items=items, next_cursor=next_position.encode() if next_position else None
        )

    @activity.defn(name="fetch_case_items")
    async def fetch_case_items(self, batch: FetchCaseItems) -> list[CaseItem]:
        """Copy a batch's bytes into the document store; the items come back with `document`.

        Each download is checked against the SHA-256 the source listed (a mismatch is retried:
        a truncated transfer passes next time, a source that keeps lying becomes a gap)."""
        client: SourceClient | None = None
        fetched: list[CaseItem] = []
        total = len(batch.items)
        for number, item in enumerate(batch.items, start=1):
            if item.document is None:
                if client is None:
                    client, _ = await self._client(batch.source)
                fetched.append(await self._fetch(client, batch.case_reference, item))
            else:
                fetched.append(item)
            activity.heartbeat(f"{number}/{total}: {item.source_id}")
        activity.logger.info(
            "fetched %d %s items of case %s", total, batch.source, batch.case_reference
        )
        return fetched

    # --------------------------------------------------------------- helpers
    async def _fetch(self, client: SourceClient, case_reference: str, item: CaseItem) -> CaseItem:
        with external_call(f"download {item.source_id} of case {case_reference}"):
            data = await client.download(item)
        digest = hashlib.sha256(data).hexdigest()
        if item.sha256 and digest != item.sha256:
            raise ApplicationError(
                f"download {item.source_id}: the bytes ({len(data)}, sha256 {digest[:12]}…) do "
                f"not match what the source listed (sha256 {item.sha256[:12]}…)",
                type="IntegrityMismatch",
            )
        content_type = item.metadata.get("content_type") or CONTENT_TYPES.get(
            item.kind, "application/octet-stream"
        )
        ref = await self._store.put(data, filename=item.name, content_type=content_type)
        return item.model_copy(update={"document": ref, "sha256": ref.sha256, "size": ref.size})

    async def _client(self, source: str) -> tuple[SourceClient, CaseSource]:
        bundle = await self._bundle()
        sources = bundle.get(CaseSources)
        entry = sources.sources.get(source)
        if entry is None:
            raise ApplicationError(
                f"case source {source!r} is not configured in {bundle.profile} "
                f"(case sources {sources.version})",
                type="UnknownCaseSource",
                non_retryable=True,
            )
        client_type = CLIENTS.get(entry.kind)
        if client_type is None or entry.endpoint is None:
            raise ApplicationError(
                f"case source {source!r} is of kind {entry.kind.value}: nothing to list",
                type="NotListable",
                non_retryable=True,
            )
        url = self._endpoints().get(source, entry.endpoint)
        # Checked on every call: an override is not validated with the bundle.
        problem = endpoint_problem(url, entry.allowed_hosts)
        if problem:
            raise ApplicationError(
                f"case source {source!r}: {problem}", type="EndpointNotAllowed", non_retryable=True
            )
        try:
            # Resolved per call, so a rotated file: secret is picked up without a restart.
            key = self._settings.secret(entry.api_key) if entry.api_key else ""
        except SecretResolutionError as exc:
            raise ApplicationError(
                f"api key of case source {source!r}: {exc}", type="SecretResolutionError"
            ) from exc
        client = client_type(
            self._http, source=source, base_url=url, api_key=key, timeout_s=entry.timeout_s
        )
        return client, entry

    def _endpoints(self) -> Mapping[str, str]:
        """`settings.case_sources.endpoints` where the settings have them (the dev stack's
        ports); an empty mapping otherwise."""
        overrides = getattr(getattr(self._settings, "case_sources", None), "endpoints", None)
        return overrides if isinstance(overrides, Mapping) else {}

    async def _bundle(self) -> Bundle:
        return await current_bundle(self._config)
