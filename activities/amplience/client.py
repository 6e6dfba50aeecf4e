"""HTTP calls to Amplience Dynamic Content: Content Management API (bearer token, HAL) and
Content Delivery 2 (public, published content only)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from activities.amplience.auth import token_provider
from activities.amplience.errors import SYSTEM, VersionConflictError, raise_for_amplience
from activities.amplience.models import (
    ContentItem,
    DeliveredContent,
    HalPage,
    PublishingJob,
    WorkflowState,
)
from activities.http.errors import (
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
    transport_errors,
)
from activities.http.transport import AuthenticatedTransport, Credential
from docflow.settings import Settings

# What a re-applied change is made of: the changed fields, computed from the current item
# (None: nothing to change any more).
Change = Mapping[str, Any] | Callable[[ContentItem], Mapping[str, Any] | None]


class TokenProvider(Protocol):
    async def token(self) -> str: ...

    def invalidate(self, token: str | None = None) -> None: ...


class WorkflowStateNotFoundError(PermanentServiceError):
    """No workflow state of the hub has that label."""


class PublishingTimeoutError(RetryableServiceError):
    """The publishing job did not finish in time (it may still finish)."""


class AmplienceClient:
    """Content items, workflow and publishing of one hub; a 401 refreshes the token once."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        delivery_url: str,
        hub_id: str,
        tokens: TokenProvider,
        timeout_s: float = 30.0,
        poll_interval_s: float = 2.0,
        publish_timeout_s: float = 300.0,
        max_conflict_retries: int = 5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._delivery = delivery_url.rstrip("/")
        self._hub_id = hub_id
        self._timeout_s = timeout_s
        self._poll_interval_s = poll_interval_s
        self._publish_timeout_s = publish_timeout_s
        self._max_conflict_retries = max_conflict_retries
        self._sleep = sleep
        self._clock = clock
        self._states: list[WorkflowState] | None = None
        self._transport = AuthenticatedTransport(
            http,
            Credential(tokens.token, tokens.invalidate, scheme="bearer"),
            system=SYSTEM,
            timeout_s=timeout_s,
        )

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> AmplienceClient:
        amp = settings.amplience
        if amp.client_secret is None or not amp.hub_id:
            raise ValueError("amplience.hub_id and amplience.client_secret must be configured")
        tokens = token_provider(
            http,
            amp.auth_url,
            amp.client_id,
            settings.secret(amp.client_secret),
            timeout_s=amp.timeout_s,
        )
        return cls(
            http,
            api_url=amp.api_url,
            delivery_url=amp.delivery_base,
            hub_id=amp.hub_id,
            tokens=tokens,
            timeout_s=amp.timeout_s,
            poll_interval_s=amp.publish_poll_interval_s,
            publish_timeout_s=amp.publish_timeout_s,
        )

    # ------------------------------------------------------------------ items
    async def get_item(self, item_id: str) -> ContentItem:
        response = await self._request("GET", f"/content-items/{_seg(item_id)}")
        return ContentItem.model_validate(response.json())

    async def get_version(self, item_id: str, version: int) -> ContentItem:
        response = await self._request(
            "GET", f"/content-items/{_seg(item_id)}/versions/{int(version)}"
        )
        return ContentItem.model_validate(response.json())

    async def create_item(
        self,
        repository_id: str,
        *,
        label: str,
        body: Mapping[str, Any],
        locale: str | None = None,
        folder_id: str | None = None,
    ) -> ContentItem:
        """`body` carries `_meta.schema` (and `_meta.deliveryKey` when wanted)."""
        payload: dict[str, Any] = {"label": label, "body": dict(body)}
        if locale is not None:
            payload["locale"] = locale
        if folder_id is not None:
            payload["folderId"] = folder_id
        response = await self._request(
            "POST", f"/content-repositories/{_seg(repository_id)}/content-items", json=payload
        )
        return ContentItem.model_validate(response.json())

    async def update_item(
        self, item_id: str, version: int, changes: Mapping[str, Any]
    ) -> ContentItem:
        """One PATCH at `version`; VersionConflictError when the item has moved on."""
        payload = {**changes, "version": version}
        response = await self._request("PATCH", f"/content-items/{_seg(item_id)}", json=payload)
        return ContentItem.model_validate(response.json())

    async def patch_item(
        self, item_id: str, change: Change, *, version: int | None = None
    ) -> ContentItem:
        """PATCH with optimistic locking: on a version conflict re-read the item and re-apply
        the change (a callable recomputes it from the current item; returning None stops).
        Without `version` the item is read first."""
        return await self._locked(
            item_id,
            version,
            change,
            lambda at, fields: self.update_item(item_id, at, fields),
        )

    # --------------------------------------------------------------- search
    async def find(self, query: str, *, page: int = 0, size: int = 20) -> HalPage[ContentItem]:
        response = await self._request(
            "GET",
            f"/hubs/{_seg(self._hub_id)}/content-items/find",
            params={"q": query, "page": page, "size": size},
        )
        return HalPage[ContentItem].model_validate(response.json())

    async def find_by_delivery_key(
        self, delivery_key: str, *, max_pages: int = 5
    ) -> ContentItem | None:
        """The active item whose body carries `delivery_key`, or None. Search is by text
        (GUESS: `find?q=` matches the key in the body), so every hit is checked exactly; when
        search finds nothing, Content Delivery 2 is asked too (it knows published items)."""
        for page in range(max_pages):
            found = await self.find(delivery_key, page=page, size=100)
            for item in found.items("content-items"):
                key = item.delivery_key or item.meta.delivery_key
                if key == delivery_key and item.status == "ACTIVE":
                    return item
            if not found.has_next:
                break
        try:
            delivered = await self.delivered_by_key(delivery_key)
        except NotFoundError:
            return None
        if delivered.delivery_id is None:
            return None
        item = await self.get_item(delivered.delivery_id)
        current = item.delivery_key or item.meta.delivery_key
        return item if current == delivery_key and item.status == "ACTIVE" else None

    # -------------------------------------------------------------- workflow
    async def workflow_states(self, *, refresh: bool = False) -> list[WorkflowState]:
        """Every workflow state of the hub (all pages); cached per client."""
        if self._states is not None and not refresh:
            return list(self._states)
        states: list[WorkflowState] = []
        page = 0
        while True:
            response = await self._request(
                "GET",
                f"/hubs/{_seg(self._hub_id)}/workflow-states",
                params={"page": page, "size": 100},
            )
            parsed = HalPage[WorkflowState].model_validate(response.json())
            states.extend(parsed.items("workflow-states"))
            if parsed.page is None or parsed.page.number + 1 >= parsed.page.total_pages:
                break
            page += 1
        self._states = states
        return list(states)

    async def workflow_state_id(self, label: str) -> str:
        """The id of the hub's workflow state with this label (case-insensitive)."""
        for refresh in (False, True):
            for state in await self.workflow_states(refresh=refresh):
                if state.label.casefold() == label.casefold():
                    return state.id
        raise WorkflowStateNotFoundError(SYSTEM, f"no workflow state labelled {label!r}")

    async def set_workflow_state(
        self, item_id: str, state_id: str | None, *, version: int | None = None
    ) -> ContentItem:
        """Move an item to a workflow state (`None` unassigns); a version conflict re-reads the
        item and moves it again. Nothing is sent when it is in that state already."""

        def change(current: ContentItem) -> Mapping[str, Any] | None:
            return None if current.workflow_state == state_id else {"state": state_id}

        async def send(at: int, fields: Mapping[str, Any]) -> ContentItem:
            payload = {**fields, "version": at}
            response = await self._request(
                "PATCH", f"/content-items/{_seg(item_id)}/workflow", json=payload
            )
            return ContentItem.model_validate(response.json())

        return await self._locked(item_id, version, change, send, first={"state": state_id})

    # ------------------------------------------------------------ publishing
    async def publish(self, item_id: str) -> str:
        """Start publishing the item's current version; the publishing job's id."""
        response = await self._request("POST", f"/content-items/{_seg(item_id)}/publish")
        location = response.headers.get("Location")
        if not location:
            raise PermanentServiceError(SYSTEM, f"publish {item_id}: no Location in the answer")
        return urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]

    async def get_publishing_job(self, job_id: str) -> PublishingJob:
        response = await self._request("GET", f"/publishing-jobs/{_seg(job_id)}")
        return PublishingJob.model_validate(response.json())

    async def wait_for_job(self, job_id: str) -> PublishingJob:
        """Poll the job until COMPLETED, FAILED or CANCELLED; PublishingTimeoutError past the
        publish timeout."""
        deadline = self._clock() + self._publish_timeout_s
        while True:
            job = await self.get_publishing_job(job_id)
            if job.is_final:
                return job
            if self._clock() >= deadline:
                raise PublishingTimeoutError(
                    SYSTEM, f"publishing job {job_id} still {job.state} after the timeout"
                )
            await self._sleep(self._poll_interval_s)

    async def publish_and_wait(self, item_id: str) -> PublishingJob:
        """Publish and follow the job to its end (the caller reads COMPLETED or FAILED)."""
        return await self.wait_for_job(await self.publish(item_id))

    # -------------------------------------------------------------- delivery
    async def delivered_by_key(self, delivery_key: str) -> DeliveredContent:
        """Content Delivery 2 by delivery key: NotFoundError unless published."""
        return await self._deliver(f"/content/key/{quote(delivery_key, safe='/')}")

    async def delivered_by_id(self, item_id: str) -> DeliveredContent:
        """Content Delivery 2 by id: NotFoundError unless published."""
        return await self._deliver(f"/content/id/{_seg(item_id)}")

    async def _deliver(self, path: str) -> DeliveredContent:
        with transport_errors(SYSTEM):
            response = await self._http.get(
                f"{self._delivery}{path}",
                params={"depth": "all", "format": "inlined"},
                headers={"Accept": "application/json"},
                timeout=self._timeout_s,
            )
        raise_for_amplience(response)
        return DeliveredContent.model_validate(response.json())

    # ------------------------------------------------------------- plumbing
    async def _locked(
        self,
        item_id: str,
        version: int | None,
        change: Change,
        send: Callable[[int, Mapping[str, Any]], Awaitable[ContentItem]],
        *,
        first: Mapping[str, Any] | None = None,
    ) -> ContentItem:
        """Send `first` (or a mapping `change`) at a known `version`; on a conflict, or without a
        version, read the item, compute the change and send it at the version read."""
        known = first if first is not None else (None if callable(change) else change)
        if version is not None and known is not None:
            try:
                return await send(version, known)
            except VersionConflictError:
                pass  # someone else changed the item: re-read and re-apply
        for attempt in range(self._max_conflict_retries):
            current = await self.get_item(item_id)
            fields = change(current) if callable(change) else change
            if fields is None:
                return current
            try:
                return await send(current.version, fields)
            except VersionConflictError:
                if attempt + 1 >= self._max_conflict_retries:
                    raise
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self._transport.send(method, f"{self._api}{path}", **kwargs)
        raise_for_amplience(response)
        return response


def _seg(value: str) -> str:
    return quote(value, safe="")


__all__ = [
    "AmplienceClient",
    "Change",
    "NotFoundError",
    "PublishingTimeoutError",
    "WorkflowStateNotFoundError",
]
