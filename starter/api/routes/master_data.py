"""Master data routes under /v1/master-data: a governed source (PIM, ERP) sends batches of
records for Amplience, and reads how each record fared.

A caller acts for its own sources only (support, '*', for all); another source's records do
not exist for it. Each record of a batch is checked against this environment's mapping before
anything starts: a refused record gets every reason and starts nothing, an accepted one is
handed to its record's workflow (signal-with-start), where the newest version wins.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from docflow.models.master_data import (
    NAME_PATTERN,
    RECORD_ID_PATTERN,
    BatchAnswer,
    MasterDataBatch,
    MasterDataRecord,
    MasterDataStatus,
    RecordAnswer,
    master_data_key,
)
from starter.api.auth import Principal, Scope, require
from starter.api.context import api_context
from starter.api.errors import NotPermitted, domain_error, error_responses
from starter.api.uploads import json_body, json_request_body
from starter.processes.base import ProcessNotFound, ProcessRun
from starter.processes.master_data import MasterDataRecords, verdicts

log = logging.getLogger("docflow.api")
router = APIRouter(prefix="/v1")

Source = Annotated[
    str, Path(pattern=NAME_PATTERN, description="The governed source.", examples=["PIM"])
]
RecordType = Annotated[str, Path(pattern=NAME_PATTERN, examples=["product"])]
RecordId = Annotated[str, Path(pattern=RECORD_ID_PATTERN, examples=["SKU-1001"])]
OPENAPI_MODELS: list[type[BaseModel]] = [MasterDataBatch]
SIGNALS_AT_ONCE = 10  # signal-with-starts of one batch in flight together


async def master_data_records(request: Request) -> MasterDataRecords:
    """The master data helpers bound to a connected client (503 if Temporal is down)."""
    context = api_context(request)
    return MasterDataRecords(await context.temporal.client(), context.settings)


@router.post(
    "/master-data/{source}/records",
    tags=["master data"],
    summary="Send master data records into Amplience",
    description="Up to 100 records of one source (product information, reference content). "
    "Each is checked against this environment's mapping at once: a refused record is "
    "answered with every reason and nothing is written for it; an accepted one is written "
    "to its Amplience content item in the background (created or updated, published when "
    "configured) — the newest version of a record wins, older and same versions are "
    "ignored. 202 when any record was accepted; 422 when all were refused — an error "
    "(`records_refused`) that carries the same per-record answers beside it.",
    status_code=202,
    response_model=BatchAnswer,
    responses={
        202: {"description": "At least one record was accepted."},
        **error_responses(401, 403, 413, 422, 503),
    },
    openapi_extra=json_request_body("MasterDataBatch"),
)
async def send_records(
    request: Request,
    response: Response,
    source: Source,
    principal: Annotated[Principal, Depends(require(Scope.MASTER_DATA))],
) -> BatchAnswer | JSONResponse:
    if not principal.acts_for(source):
        raise NotPermitted(f"{principal.subject} does not act for source '{source}'")
    batch = await json_body(request, MasterDataBatch)  # read only once the caller is known
    context = api_context(request)
    records = [
        MasterDataRecord(source=source, sent_by=principal.subject, **r.model_dump())
        for r in batch.records
    ]
    checked = await verdicts(context.config, records)
    accepted = [r for r, v in zip(records, checked, strict=True) if v.accepted]
    runs: dict[str, ProcessRun] = {}
    if accepted:
        processes = await master_data_records(request)
        gate = asyncio.Semaphore(SIGNALS_AT_ONCE)

        async def send(record: MasterDataRecord) -> None:
            async with gate:
                runs[record.key] = await processes.send(record)

        # A failure (Temporal down: 503) may leave some records sent: sending the batch
        # again is harmless, their workflows ignore a version they already have.
        await asyncio.gather(*(send(r) for r in accepted))
    base = context.settings.api.public_url.rstrip("/")
    results: list[RecordAnswer] = []
    for record, verdict in zip(records, checked, strict=True):
        run = runs.get(record.key) if verdict.accepted else None
        results.append(
            RecordAnswer(
                record_type=record.record_type,
                record_id=record.record_id,
                version=record.version,
                outcome="accepted" if verdict.accepted else "refused",
                reasons=verdict.reasons,
                workflow_id=run.workflow_id if run else None,
                status_url=f"{base}/v1/master-data/{quote(source, safe='')}/"
                f"{quote(record.record_type, safe='')}/{quote(record.record_id, safe='')}"
                if run
                else None,
            )
        )
    answer = BatchAnswer(
        accepted=len(accepted), refused=len(records) - len(accepted), results=results
    )
    log.info(
        "master data from %s by %s: %d accepted, %d refused",
        source,
        principal.subject,
        answer.accepted,
        answer.refused,
    )
    if not accepted:
        refusals = "; ".join(
            f"{r.record_type}/{r.record_id[:100]}: {', '.join(r.reasons)}" for r in results[:5]
        )
        error = {"code": "records_refused", "message": f"every record was refused: {refusals}"}
        return JSONResponse({"error": error, **answer.model_dump(mode="json")}, status_code=422)
    return answer


@router.get(
    "/master-data/{source}/{record_type}/{record_id}",
    tags=["master data"],
    summary="How a master data record fared",
    description="Its Amplience item (id, version, delivery key), the newest version received "
    "and the one written, the reasons of a refusal, the last publish and its job's end "
    "state, and the audit trail.",
    response_model=MasterDataStatus,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def record_status(
    request: Request,
    source: Source,
    record_type: RecordType,
    record_id: RecordId,
    principal: Annotated[Principal, Depends(require(Scope.READ, Scope.MASTER_DATA))],
) -> MasterDataStatus:
    if not principal.acts_for(source):  # before Temporal is asked anything
        key = master_data_key(source, record_type, record_id)
        raise domain_error(ProcessNotFound(f"no master data process for {key}"))
    processes = await master_data_records(request)
    return await processes.status(source, record_type, record_id)
