"""Configuration routes under /v1/config: this environment's applied configuration versions,
promotions into it (proposed, validated, approved by a release approver, applied) and
rollbacks. Secrets appear only as references (`env:NAME`, `file:/path`).

Scopes: `config:read` to look, `config:propose` to propose or roll back, `config:release` to
decide (never on one's own proposal).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from docflow.config.diff import BundleDiff, diff_bundles, render_text
from docflow.config.versions import AppliedVersion, ConfigVersions
from docflow.models import Decision, UpdateAccepted
from docflow.models.promotion import (
    PROMOTION_ID_PATTERN,
    ActiveConfiguration,
    AppliedVersionInfo,
    PromotionAnswer,
    PromotionBody,
    PromotionStatus,
    RollbackBody,
)
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import NotFound, error_responses
from starter.api.params import IdempotencyKey
from starter.api.params import request_id as scoped_request_id
from starter.api.records_store import store_for
from starter.api.uploads import json_body, json_request_body
from starter.processes.base import StartResult
from starter.processes.promotion import ConfigPromotions, bundle_files

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1/config")
TAG = "configuration"

PromotionId = Annotated[str, Path(pattern=PROMOTION_ID_PATTERN, examples=["dev-3f2a9c1b7e4d"])]


class DecisionBody(BaseModel):
    decision: Decision
    comment: str = ""


OPENAPI_MODELS: list[type[BaseModel]] = [PromotionBody, RollbackBody, DecisionBody]


def _versions(request: Request) -> ConfigVersions:
    context = api_context(request)
    return ConfigVersions(store_for(request.app.state, context.settings))


async def _promotions(request: Request) -> ConfigPromotions:
    context = api_context(request)
    return ConfigPromotions(
        await context.temporal.client(), context.settings, context.store, _versions(request)
    )


def _answer(
    request: Request, promotions: ConfigPromotions, started: StartResult
) -> PromotionAnswer:
    base = api_context(request).settings.api.public_url.rstrip("/")
    key = started.workflow_id.rsplit(":", 1)[-1]
    return PromotionAnswer(
        workflow_id=started.workflow_id,
        created=started.created,
        status_url=f"{base}/v1/config/promotions/{quote(key, safe='')}",
        web_ui_url=promotions.web_ui_url(key),
    )


def _info(version: AppliedVersion, *, files: bool) -> AppliedVersionInfo:
    return AppliedVersionInfo(
        environment=version.environment,
        number=version.number,
        content_version=version.content_version,
        kind=version.kind,
        change_id=version.change_id,
        source=version.source,
        proposer=version.proposer,
        approver=version.approver,
        replaces=version.replaces,
        summary=version.summary,
        applied_at=version.applied_at,
        files=version.files if files else None,
    )


# ------------------------------------------------------------------ versions
@router.get(
    "",
    tags=[TAG],
    summary="This environment's configuration: the version workers run on and its history",
    response_model=ActiveConfiguration,
    responses=error_responses(401, 403, 422, 503),
)
async def active(
    request: Request,
    principal: Annotated[Principal, Depends(require(Scope.CONFIG_READ))],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> ActiveConfiguration:
    context = api_context(request)
    versions = _versions(request)
    history = await asyncio.to_thread(versions.history, context.settings.profile, limit=limit)
    bundle = await context.config.current()
    return ActiveConfiguration(
        environment=context.settings.profile,
        applied=history[0].number if history else None,
        content_version=bundle.version,
        versions=[_info(v, files=False) for v in history],
    )


@router.get(
    "/versions/{number}",
    tags=[TAG],
    summary="One applied version with its files (secrets as references)",
    response_model=AppliedVersionInfo,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def version(
    request: Request,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, Depends(require(Scope.CONFIG_READ))],
) -> AppliedVersionInfo:
    profile = api_context(request).settings.profile
    found = await asyncio.to_thread(_versions(request).get, profile, number)
    if found is None:
        raise NotFound(f"{profile} has no configuration version {number}")
    return _info(found, files=True)


class VersionDiff(BaseModel):
    environment: str
    left: str
    right: str
    diff: BundleDiff
    text: str


@router.get(
    "/versions/{number}/diff",
    tags=[TAG],
    summary="What a version changed: its diff against another (default: the one it replaced)",
    description="Field by field (lists matched by id or name), secrets only as references. "
    "`against=0` compares with the bundle directory's files.",
    response_model=VersionDiff,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def version_diff(
    request: Request,
    number: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, Depends(require(Scope.CONFIG_READ))],
    against: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> VersionDiff:
    settings = api_context(request).settings
    versions = _versions(request)
    right = await asyncio.to_thread(versions.get, settings.profile, number)
    if right is None:
        raise NotFound(f"{settings.profile} has no configuration version {number}")
    base = right.replaces if against is None else against
    if not base:
        left_files, left_label = bundle_files(settings), "the bundle's files"
    else:
        left = await asyncio.to_thread(versions.get, settings.profile, base)
        if left is None:
            raise NotFound(f"{settings.profile} has no configuration version {base}")
        left_files, left_label = left.files, f"version {base}"
    diff = diff_bundles(
        left_files, right.files, left_label=left_label, right_label=f"version {number}"
    )
    return VersionDiff(
        environment=settings.profile,
        left=left_label,
        right=f"version {number}",
        diff=diff,
        text=render_text(diff),
    )


# ---------------------------------------------------------------- promotions
@router.post(
    "/promotions",
    tags=[TAG],
    summary="Propose a configuration promotion into this environment",
    description="The body carries every concern file (routing rules, mappings, targets, "
    "subscriptions, access; not settings.toml, which is deployment configuration). The "
    "promotion diffs them against the current version, validates them (schemas, references, "
    "secret references resolving here, no production endpoint or secret outside "
    "production), looks every id up in this environment's live systems, asks a release "
    "approver (never the proposer) and applies them as the next version, which running "
    "workers pick up within seconds. 201 with the status URL; the same promotion_id again "
    "is the same promotion (200); with other files 409.",
    status_code=201,
    response_model=PromotionAnswer,
    responses={
        200: {"model": PromotionAnswer, "description": "This promotion_id already exists."},
        **error_responses(401, 403, 409, 413, 422, 503),
    },
    openapi_extra=json_request_body("PromotionBody"),
)
async def propose(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Scope.CONFIG_PROPOSE))],
) -> PromotionAnswer:
    body = await json_body(request, PromotionBody)
    promotions = await _promotions(request)
    started = await promotions.propose(
        body.files,
        source=body.source,
        proposer=principal.subject,
        reason=body.reason,
        promotion_id=body.promotion_id,
    )
    if not started.created:
        response.status_code = 200
    log.info("configuration promotion %s proposed by %s", started.workflow_id, principal.subject)
    return _answer(request, promotions, started)


@router.post(
    "/rollbacks",
    tags=[TAG],
    summary="Roll this environment back to the configuration version before the current one",
    description="Re-applies the files of the version the current one replaced, as a new "
    "version (static validation, no approval wait: that configuration was approved). One "
    "rollback per current version: asking again returns the same one (200). 409 when there "
    "is nothing to roll back to.",
    status_code=201,
    response_model=PromotionAnswer,
    responses={
        200: {"model": PromotionAnswer, "description": "This rollback already exists."},
        **error_responses(401, 403, 409, 422, 503),
    },
    openapi_extra=json_request_body("RollbackBody"),
)
async def rollback(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require(Scope.CONFIG_PROPOSE))],
) -> PromotionAnswer:
    body = await json_body(request, RollbackBody)
    promotions = await _promotions(request)
    started = await promotions.rollback(actor=principal.subject, reason=body.reason)
    if not started.created:
        response.status_code = 200
    log.info("configuration rollback %s by %s", started.workflow_id, principal.subject)
    return _answer(request, promotions, started)


@router.get(
    "/promotions/{promotion_id}",
    tags=[TAG],
    summary="A promotion: state, diff, validation and live checks, decision, version applied",
    response_model=PromotionStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def promotion(
    request: Request,
    promotion_id: PromotionId,
    principal: Annotated[
        Principal, Depends(require(Scope.CONFIG_READ, Scope.CONFIG_PROPOSE, Scope.CONFIG_RELEASE))
    ],
) -> PromotionStatus:
    return await (await _promotions(request)).status(promotion_id)


@router.post(
    "/promotions/{promotion_id}/decision",
    tags=[TAG],
    summary="Approve or reject a promotion (release approvers)",
    description="Recorded for the authenticated caller, who must be one of this "
    "environment's release approvers and not the proposer. A decision that does not fit the "
    "promotion's state is 409.",
    response_model=UpdateAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=json_request_body("DecisionBody"),
)
async def decide(
    request: Request,
    promotion_id: PromotionId,
    principal: Annotated[Principal, Depends(require(Scope.CONFIG_RELEASE))],
    idempotency_key: IdempotencyKey = None,
) -> UpdateAccepted:
    body = await json_body(request, DecisionBody)
    accepted = await (await _promotions(request)).decide(
        promotion_id,
        principal.subject,
        body.decision,
        body.comment,
        idempotency_key=scoped_request_id(principal, idempotency_key),
    )
    log.info("promotion %s: %s by %s", promotion_id, body.decision.value, principal.subject)
    return accepted
