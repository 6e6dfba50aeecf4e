"""Content distribution routes: an item's distribution (status, the delivery audit trail),
an operator's retry of only its failed targets, and the deliveries to one target.

Callers acting for `AMPLIENCE` (the content team's integration) or for everything (support)
see distributions; others get 404. Retrying needs `processes:correct`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from docflow.models.content import DistributionStatus, RetryFailedRequest, TargetDelivery
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import NotFound, error_responses
from starter.api.params import IdempotencyKey
from starter.api.uploads import json_body, json_request_body
from starter.processes.content import SOURCE_SYSTEM, ContentDistributions

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1/content", tags=["content distribution"])

ItemId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["6a3f0c1e2b3c4d5e6f7a8b9c"])
]
TargetId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", examples=["PARTNER_PORTAL"])]


class RetryBody(BaseModel):
    """Which failed targets to deliver again (none named: every failed one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"targets": ["ERP_CATALOGUE"], "comment": "fixed"}]},
    )

    targets: list[str] = Field(default_factory=list, max_length=20)
    comment: str = Field(default="", max_length=500)


class RetryAnswer(BaseModel):
    status: str = Field(examples=["retrying"])


class TargetDeliveries(BaseModel):
    target: str
    count: int
    results: list[TargetDelivery]


def _visible(principal: Principal, what: str) -> None:
    if not principal.acts_for(SOURCE_SYSTEM):
        raise NotFound(f"no content distribution for {what}")


async def _distributions(request: Request) -> ContentDistributions:
    return await api_context(request).content_distributions()


Distributions = Annotated[ContentDistributions, Depends(_distributions)]


@router.get(
    "/items/{item_id}",
    summary="The distribution of a content item",
    description="The version being (or last) distributed, its route, what the process waits "
    "for, and every delivery (target, version, attempts, status, HTTP status, times, payload "
    "hash), newest last; plus approvals ignored (duplicates, older versions).",
    response_model=DistributionStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def item_status(
    item_id: ItemId,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    distributions: Distributions,
) -> DistributionStatus:
    _visible(principal, item_id)
    return await distributions.status(item_id)


@router.post(
    "/items/{item_id}/retries",
    summary="Deliver the failed targets of an item again",
    description="Only targets that failed for the current version (refused or given up) are "
    "delivered again, with the same idempotency keys. A target refused by the mapping (a "
    "field missing in the item) cannot be retried: the item must be fixed in Amplience and "
    "approved again (409 with the reasons).",
    status_code=202,
    response_model=RetryAnswer,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("RetryBody"),
)
async def retry_failed(
    item_id: ItemId,
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    distributions: Distributions,
) -> RetryAnswer:
    _visible(principal, item_id)
    body = await json_body(request, RetryBody)
    status = await distributions.retry_failed(
        item_id,
        RetryFailedRequest(actor=principal.subject, comment=body.comment, targets=body.targets),
    )
    log.info("retry of %s %s by %s", item_id, body.targets or "all failed", principal.subject)
    return RetryAnswer(status=status)


@router.post(
    "/items/{item_id}/distributions",
    summary="Distribute an item's current version (a webhook that never arrived)",
    description="Amplience sends each webhook once. When an approval's webhook was lost, this "
    "asks docflow to read the item: if its current version is in the approval state it is "
    "distributed like any approval (a version already distributed is not sent again). The "
    "same `Idempotency-Key` again is one request.",
    status_code=202,
    response_model=RetryAnswer,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def distribute_current(
    item_id: ItemId,
    principal: Annotated[Principal, Depends(require(Scope.CORRECT))],
    distributions: Distributions,
    idempotency_key: IdempotencyKey = None,
) -> RetryAnswer:
    _visible(principal, item_id)
    await distributions.distribute_current(
        item_id, principal.subject, idempotency_key or uuid.uuid4().hex
    )
    log.info("distribution of %s's current version asked by %s", item_id, principal.subject)
    return RetryAnswer(status="accepted")


@router.get(
    "/targets/{target}/deliveries",
    summary="Deliveries to one target",
    description="The deliveries to this target of the items most recently routed to it "
    "(at most 50 items), newest first: version, attempts, status, times, payload hash.",
    response_model=TargetDeliveries,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def target_deliveries(
    target: TargetId,
    principal: Annotated[Principal, Depends(require(Scope.READ))],
    distributions: Distributions,
) -> TargetDeliveries:
    _visible(principal, target)
    found = await distributions.by_target(target)
    return TargetDeliveries(target=target, count=len(found), results=found)


OPENAPI_MODELS: list[type[BaseModel]] = [RetryBody]
