"""The simulated Amplience hub: content items with versions, workflow, publishing, webhooks."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from simulators.amplience.config import AmplienceConfig
from simulators.kit.delivery import CallbackDispatcher
from simulators.kit.faults import FaultInjector
from simulators.kit.timers import Timers

SIGNATURE_HEADER = "X-Amplience-Webhook-Signature"
EVENT_CREATED = "dynamic-content.content-item.created"
EVENT_UPDATED = "dynamic-content.content-item.updated"
EVENT_WORKFLOW = "dynamic-content.content-item.workflow.updated"
EVENT_SNAPSHOT = "dynamic-content.snapshot.published"
_DELIVERY_KEY = re.compile(r"^(?!/)[A-Za-z0-9\-_/]{1,150}(?<!/)$")
CREATED_BY = "docflow-dev"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def object_id() -> str:
    """A 24-hex-digit id, as Amplience gives hubs, states, jobs and snapshots."""
    return secrets.token_hex(12)


def webhook_signature(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw body)): the X-Amplience-Webhook-Signature header."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class SimError(Exception):
    """An answer in Amplience's error shape."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def api_error(
    status: int,
    message: str,
    *,
    entity: str | None = None,
    prop: str | None = None,
    invalid: Any = None,
) -> SimError:
    """`{"errors":[{entity, property, invalidValue, message}]}` (Amplience's error shape)."""
    return SimError(
        status,
        {
            "errors": [
                {"entity": entity, "property": prop, "invalidValue": invalid, "message": message}
            ]
        },
    )


@dataclass
class ItemState:
    id: str
    repository_id: str
    label: str
    body: dict[str, Any]
    locale: str | None
    folder_id: str | None
    version: int
    created: datetime
    modified: datetime
    workflow_state: str | None = None
    status: str = "ACTIVE"
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    published_version: int | None = None
    published_body: dict[str, Any] | None = None
    published_date: datetime | None = None
    unpublished: bool = False

    @property
    def delivery_key(self) -> str | None:
        meta = self.body.get("_meta")
        key = meta.get("deliveryKey") if isinstance(meta, dict) else None
        return key if isinstance(key, str) else None

    @property
    def publishing_status(self) -> str:
        if self.unpublished:
            return "UNPUBLISHED"
        if self.published_version is None:
            return "NONE"
        return "LATEST" if self.published_version == self.version else "EARLY"


@dataclass
class JobState:
    id: str
    item_id: str
    version: int
    created: datetime
    state: str = "PREPARING"
    fail: bool = False
    snapshot_id: str | None = None
    error: str | None = None


class AmplienceSim:
    """All state of one simulated hub; reachable as `app.state.sim`."""

    def __init__(self, config: AmplienceConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.webhooks = CallbackDispatcher(
            config.webhook_retry, config.webhook_faults, seed=config.seed
        )
        self.tokens: dict[str, datetime] = {}
        self._timers = Timers()
        self.reset()

    def reset(self) -> None:
        """Forget items, jobs and webhooks and restore the configuration; tokens stay valid."""
        self._timers.cancel_all()
        self.items: dict[str, ItemState] = {}
        self.jobs: dict[str, JobState] = {}
        self.workflow_states = [s.model_copy() for s in self.config.workflow_states]
        self.webhook_url = self.config.webhook_url
        self.webhook_secret = self.config.webhook_secret
        self.publish_limit = self.config.publish_limit
        self.publish_window_s = self.config.publish_window_s
        self.job_step_ms = self.config.job_step_ms
        self.fail_next_jobs = 0
        self._publish_calls: deque[float] = deque()
        self._sequence = itertools.count(1)
        self.sent: list[dict[str, Any]] = []
        self.faults.configure(self.config.faults)
        self.webhooks.clear()
        self.webhooks.configure(self.config.webhook_faults)

    async def settle(self, timeout_s: float) -> bool:
        """Wait until no publishing job or webhook is pending; False on timeout."""
        return await self._timers.settle(self.webhooks, timeout_s)

    async def aclose(self) -> None:
        self._timers.cancel_all()
        await self.webhooks.aclose()

    # ------------------------------------------------------------------ tokens

    def issue_token(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = datetime.now(UTC) + timedelta(seconds=self.config.token_ttl_s)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.config.token_ttl_s,
        }

    def token_valid(self, token: str) -> bool:
        expires = self.tokens.get(token)
        if expires is None:
            return False
        if expires <= datetime.now(UTC):
            del self.tokens[token]
            return False
        return True

    # ------------------------------------------------------------ workflow states

    def state_by_label(self, label: str) -> str:
        for state in self.workflow_states:
            if state.label.lower() == label.lower():
                return state.id
        raise api_error(400, f"No workflow state labelled {label!r}.", entity="WorkflowState")

    # ------------------------------------------------------------------- items

    def item(self, item_id: str) -> ItemState:
        item = self.items.get(item_id)
        if item is None:
            raise api_error(404, f"Content item {item_id} not found.", entity="ContentItem")
        return item

    def create_item(
        self,
        repository_id: str,
        body: dict[str, Any],
        api_base: str,
        *,
        workflow_state: str | None = None,
    ) -> ItemState:
        if repository_id != self.config.repository_id:
            raise api_error(404, f"Content repository {repository_id} not found.")
        label = body.get("label")
        content = body.get("body")
        if not isinstance(label, str) or not label.strip():
            raise api_error(400, "must not be blank", entity="ContentItem", prop="label")
        if not isinstance(content, dict):
            raise api_error(400, "must not be null", entity="ContentItem", prop="body")
        meta = content.get("_meta")
        if not isinstance(meta, dict) or not isinstance(meta.get("schema"), str):
            raise api_error(400, "must not be null", entity="ContentItem", prop="body._meta.schema")
        self._check_delivery_key(content, None)
        now = datetime.now(UTC)
        item = ItemState(
            id=str(uuid.uuid4()),
            repository_id=repository_id,
            label=label,
            body=copy.deepcopy(content),
            locale=body.get("locale"),
            folder_id=body.get("folderId"),
            version=1,
            created=now,
            modified=now,
            workflow_state=workflow_state,
        )
        item.body.setdefault("_meta", {}).setdefault("name", label)
        self.items[item.id] = item
        self._snapshot_version(item, api_base)
        self.emit(EVENT_CREATED, self.item_json(item, api_base))
        return item

    def _check_delivery_key(self, content: dict[str, Any], item_id: str | None) -> None:
        meta = content.get("_meta")
        key = meta.get("deliveryKey") if isinstance(meta, dict) else None
        if key is None:
            return
        if not isinstance(key, str) or not _DELIVERY_KEY.match(key):
            raise api_error(
                400,
                "Delivery key must be 1-150 characters of a-zA-Z0-9-_/ "
                "and must not start or end with '/'.",
                entity="ContentItem",
                prop="body._meta.deliveryKey",
                invalid=key,
            )
        for other in self.items.values():
            if other.id != item_id and other.delivery_key == key:
                raise api_error(
                    409,
                    f"Delivery key {key!r} is already in use.",
                    entity="ContentItem",
                    prop="body._meta.deliveryKey",
                    invalid=key,
                )

    def _check_version(self, item: ItemState, body: dict[str, Any]) -> None:
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise api_error(400, "must not be null", entity="ContentItem", prop="version")
        if version != item.version:
            # Status code not documented (vendor-apis-evidence.md #26): GUESS 409.
            raise api_error(
                409,
                f"The content item has been modified: version {version} is not the current "
                f"version {item.version}.",
                entity="ContentItem",
                prop="version",
                invalid=version,
            )

    def update_item(self, item: ItemState, body: dict[str, Any], api_base: str) -> ItemState:
        """PATCH: the changed fields plus the current version (optimistic locking)."""
        self._check_version(item, body)
        if item.status != "ACTIVE":
            raise api_error(400, "An archived content item cannot be updated.")
        if "body" in body:
            content = body["body"]
            if not isinstance(content, dict) or not isinstance(
                (content.get("_meta") or {}).get("schema"), str
            ):
                raise api_error(
                    400, "must not be null", entity="ContentItem", prop="body._meta.schema"
                )
            self._check_delivery_key(content, item.id)
            item.body = copy.deepcopy(content)
            item.body["_meta"].setdefault("name", item.label)
        if "label" in body:
            label = body["label"]
            if not isinstance(label, str) or not label.strip():
                raise api_error(400, "must not be blank", entity="ContentItem", prop="label")
            item.label = label
        if "locale" in body:
            item.locale = body["locale"]
        if "folderId" in body:
            item.folder_id = body["folderId"]
        self._bump(item, api_base)
        self.emit(EVENT_UPDATED, self.item_json(item, api_base))
        return item

    def set_workflow(self, item: ItemState, body: dict[str, Any], api_base: str) -> ItemState:
        """PATCH /workflow `{version, state}`; `state: null` unassigns."""
        self._check_version(item, body)
        state = body.get("state")
        if state is not None and state not in {s.id for s in self.workflow_states}:
            raise api_error(
                400,
                f"Workflow state {state} does not exist on this hub.",
                entity="ContentItem",
                prop="workflow.state",
                invalid=state,
            )
        item.workflow_state = state
        self._bump(item, api_base)
        self.emit(EVENT_WORKFLOW, self.item_json(item, api_base))
        return item

    def _bump(self, item: ItemState, api_base: str) -> None:
        item.version += 1
        item.modified = datetime.now(UTC)
        self._snapshot_version(item, api_base)

    def _snapshot_version(self, item: ItemState, api_base: str) -> None:
        item.versions[item.version] = self.item_json(item, api_base)

    def find(self, query: str) -> list[ItemState]:
        text = query.lower().strip()
        found = []
        for item in self.items.values():
            if item.status != "ACTIVE":
                continue
            haystack = (item.label + " " + json.dumps(item.body)).lower()
            if not text or text in haystack:
                found.append(item)
        return found

    # ----------------------------------------------------------------- publishing

    def check_publish_limit(self) -> None:
        """Publish + unpublish together: `publish_limit` per `publish_window_s`, else 429."""
        now = time.monotonic()
        while self._publish_calls and now - self._publish_calls[0] >= self.publish_window_s:
            self._publish_calls.popleft()
        if len(self._publish_calls) >= self.publish_limit:
            raise SimError(429, {"message": "Too Many Requests: publishing rate limit exceeded."})
        self._publish_calls.append(now)

    def publish(self, item: ItemState, api_base: str) -> JobState:
        self.check_publish_limit()
        if item.status != "ACTIVE":
            raise api_error(400, "Only an active content item can be published.")
        job = JobState(
            id=object_id(),
            item_id=item.id,
            version=item.version,
            created=datetime.now(UTC),
        )
        if self.fail_next_jobs > 0:
            self.fail_next_jobs -= 1
            job.fail = True
        self.jobs[job.id] = job
        self._later(self.job_step_ms, lambda: self._advance(job, api_base))
        return job

    def unpublish(self, item: ItemState) -> None:
        self.check_publish_limit()
        if item.published_version is None:
            raise api_error(400, "The content item is not published.")
        item.unpublished = True

    def _advance(self, job: JobState, api_base: str) -> None:
        if job.state == "PREPARING":
            job.state = "PUBLISHING"
            self._later(self.job_step_ms, lambda: self._advance(job, api_base))
            return
        if job.state != "PUBLISHING":
            return
        if job.fail:
            job.state = "FAILED"
            job.error = "Publishing failed (simulated)."
            return
        item = self.items.get(job.item_id)
        if item is None:
            job.state = "FAILED"
            job.error = "Content item no longer exists."
            return
        published = item.versions[job.version]
        item.published_version = job.version
        item.published_body = copy.deepcopy(published["body"])
        item.published_date = datetime.now(UTC)
        item.unpublished = False
        job.snapshot_id = object_id()
        job.state = "COMPLETED"
        self.emit(EVENT_SNAPSHOT, self.snapshot_json(job, item, api_base))

    def job(self, job_id: str) -> JobState:
        job = self.jobs.get(job_id)
        if job is None:
            raise api_error(404, f"Publishing job {job_id} not found.", entity="PublishingJob")
        return job

    def _later(self, delay_ms: int, action: Callable[[], None]) -> None:
        self._timers.later(delay_ms, action)

    # ----------------------------------------------------------------- delivery

    def delivered(self, *, key: str | None = None, item_id: str | None = None) -> dict[str, Any]:
        """Content Delivery 2: the published version only; 404 when none."""
        item: ItemState | None = None
        if item_id is not None:
            item = self.items.get(item_id)
        else:
            # By the key of the published version (a newer draft may have changed it).
            for candidate in self.items.values():
                meta = (candidate.published_body or {}).get("_meta") or {}
                if meta.get("deliveryKey") == key:
                    item = candidate
        if (
            item is None
            or item.published_body is None
            or item.unpublished
            or item.status != "ACTIVE"
        ):
            what = f"key {key}" if key is not None else f"id {item_id}"
            data = {"deliveryKey": key} if key is not None else {"deliveryId": item_id}
            raise SimError(
                404,
                {
                    "error": {
                        "type": "CONTENT_NOT_FOUND",
                        "message": f"No content found with {what}",
                        "data": data,
                    }
                },
            )
        content = copy.deepcopy(item.published_body)
        content["_meta"] = {**content.get("_meta", {}), "deliveryId": item.id}
        return {"content": content}

    # ----------------------------------------------------------------- webhooks

    def emit(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Build the envelope; sign and send it when a webhook URL is configured."""
        envelope = {
            "sequenceId": next(self._sequence),
            "id": str(uuid.uuid4()),
            "name": name,
            "requestId": str(uuid.uuid4()),
            "resource": self.config.hub_id,
            "payload": payload,
        }
        self.sent.append(envelope)
        if self.webhook_url:
            raw = json.dumps(envelope).encode()
            secret = self.webhook_secret

            def headers() -> dict[str, str]:
                return {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: webhook_signature(secret, raw),
                }

            self.webhooks.submit(
                self.webhook_url,
                raw,
                event_id=envelope["id"],
                event_type=name,
                headers=headers,
                meta={"item_id": payload.get("id"), "sequence_id": envelope["sequenceId"]},
            )
        return envelope

    # ----------------------------------------------------------------- representations

    def base(self, api_base: str) -> str:
        return (self.config.public_url or api_base).rstrip("/") + "/v2/content"

    def item_json(self, item: ItemState, api_base: str) -> dict[str, Any]:
        base = self.base(api_base)
        me = f"{base}/content-items/{item.id}"
        data: dict[str, Any] = {
            "id": item.id,
            "contentRepositoryId": item.repository_id,
            "folderId": item.folder_id,
            "body": copy.deepcopy(item.body),
            "version": item.version,
            "label": item.label,
            "locale": item.locale,
            "status": item.status,
            "createdBy": CREATED_BY,
            "createdDate": iso(item.created),
            "lastModifiedBy": CREATED_BY,
            "lastModifiedDate": iso(item.modified),
            "deliveryId": item.id,
            "validationState": "VALID",
            "publishingStatus": item.publishing_status,
            "lastPublishedVersion": item.published_version,
            "lastPublishedDate": iso(item.published_date),
            "assignees": [],
            "_links": {
                "self": {"href": me},
                "content-item": {"href": f"{me}{{?projection}}", "templated": True},
                "update": {"href": me},
                "publish": {"href": f"{me}/publish"},
                "unpublish": {"href": f"{me}/unpublish"},
                "edit-workflow": {"href": f"{me}/workflow"},
                "content-item-version": {"href": f"{me}/versions{{/version}}", "templated": True},
                "content-repository": {"href": f"{base}/content-repositories/{item.repository_id}"},
            },
        }
        if item.delivery_key is not None:
            data["deliveryKey"] = item.delivery_key
        if item.workflow_state is not None:
            data["workflow"] = {"state": item.workflow_state}
        return data

    def workflow_states_page(self, api_base: str, page: int, size: int) -> dict[str, Any]:
        base = self.base(api_base)
        url = f"{base}/hubs/{self.config.hub_id}/workflow-states"
        states = [
            {
                "id": s.id,
                "label": s.label,
                "color": s.color,
                "createdBy": CREATED_BY,
                "createdDate": "2026-01-01T00:00:00.000Z",
                "lastModifiedBy": CREATED_BY,
                "lastModifiedDate": "2026-01-01T00:00:00.000Z",
                "_links": {
                    "self": {"href": f"{base}/workflow-states/{s.id}"},
                    "workflow-state": {"href": f"{base}/workflow-states/{s.id}"},
                    "hub": {"href": f"{base}/hubs/{self.config.hub_id}"},
                },
            }
            for s in self.workflow_states
        ]
        return hal_page("workflow-states", states, url, page, size)

    def job_json(self, job: JobState, api_base: str) -> dict[str, Any]:
        base = self.base(api_base)
        me = f"{base}/publishing-jobs/{job.id}"
        links: dict[str, Any] = {"self": {"href": me}, "publishing-job": {"href": me}}
        if job.state not in ("COMPLETED", "FAILED", "CANCELLED"):
            links["cancel"] = {"href": me}
        if job.snapshot_id:
            links["snapshot"] = {"href": f"{base}/snapshots/{job.snapshot_id}"}
        data: dict[str, Any] = {
            "id": job.id,
            "scheduledDate": iso(job.created),
            "createdDate": iso(job.created),
            "createdBy": CREATED_BY,
            "state": job.state,
            "_links": links,
        }
        if job.state == "FAILED":
            data["publishErrorStatus"] = job.error
        return data

    def snapshot_json(self, job: JobState, item: ItemState, api_base: str) -> dict[str, Any]:
        base = self.base(api_base)
        me = f"{base}/snapshots/{job.snapshot_id}"
        return {
            "id": job.snapshot_id,
            "comment": "",
            "createdDate": iso(datetime.now(UTC)),
            "createdBy": CREATED_BY,
            "createdFrom": "content-item",
            "type": "SYSTEM",
            "meta": [],
            "taggedEditions": [],
            "locale": item.locale,
            "rootContentItem": {
                "label": item.label,
                "contentTypeUri": item.body.get("_meta", {}).get("schema"),
                "id": item.id,
            },
            "_links": {"self": {"href": me}, "snapshot": {"href": me}},
        }


def hal_page(rel: str, items: list[Any], url: str, page: int, size: int) -> dict[str, Any]:
    """A HAL page: `_embedded.<rel>`, `_links`, `page{size,totalElements,totalPages,number}`."""
    total = len(items)
    pages = (total + size - 1) // size if size else 0
    chunk = items[page * size : (page + 1) * size]
    links: dict[str, Any] = {
        "self": {"href": f"{url}?page={page}&size={size}"},
        "first": {"href": f"{url}?page=0&size={size}"},
    }
    if page + 1 < pages:
        links["next"] = {"href": f"{url}?page={page + 1}&size={size}"}
    if page > 0:
        links["prev"] = {"href": f"{url}?page={page - 1}&size={size}"}
    if pages:
        links["last"] = {"href": f"{url}?page={pages - 1}&size={size}"}
    return {
        "_embedded": {rel: chunk},
        "_links": links,
        "page": {"size": size, "totalElements": total, "totalPages": pages, "number": page},
    }


def current_sim(request: Request) -> AmplienceSim:
    sim: AmplienceSim = request.app.state.sim
    return sim
