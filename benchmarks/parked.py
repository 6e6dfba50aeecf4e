"""Processes parked waiting for a signature: start them, find their documents, sign them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.client import Client

from benchmarks.batch import BatchResult, run_batch
from benchmarks.pipeline import Doc
from devstack.samples import CRM_KEY, contract_pdf, sample_request
from docflow.docstore import document_store_from_settings
from docflow.models import SigningState, SigningStatus
from docflow.settings import Settings
from docflow.temporal import signing_workflow_id
from starter.api_client import DocflowApiClient
from starter.processes.signing import SigningProcesses

SIGNER = "jane.doe@acme.example.com"
COUNT_INTERVAL_S = 1.0
FINISH_TIMEOUT_S = 600.0
PARKED = 'DocflowStatus = "awaiting_signature"'
COMPLETED = 'ExecutionStatus = "Completed" AND DocflowStatus = "completed"'


@dataclass(frozen=True)
class Parked:
    key: str
    document_uuid: str


def nda_docs(tag: str, count: int) -> list[Doc]:
    """NDAs (no internal approval) whose source record is `tag`, so visibility can count them."""
    docs = []
    pdf = contract_pdf(tag)
    for i in range(count):
        key = f"{tag}-{i:05d}"
        request = sample_request(key, stages=[], document_type="nda", signer=SIGNER)
        request.source.record_id = tag
        docs.append(Doc(key, request, pdf))
    return docs


class ParkingLot:
    """Starts NDAs over HTTP, waits until visibility counts them parked, signs them."""

    def __init__(
        self, api_url: str, core_signature_url: str, http: httpx.AsyncClient, client: Client
    ) -> None:
        self.api = DocflowApiClient(api_url, CRM_KEY, http=http)
        self.core_signature_url = core_signature_url
        self.http = http
        self.client = client

    async def start(self, docs: list[Doc], concurrency: int) -> BatchResult:
        """HTTP starts only; each latency is one start call."""

        async def start_one(doc: Doc) -> None:
            await self.api.start(doc.request, doc.pdf, filename=f"{doc.key}.pdf")

        return await run_batch(docs, concurrency, start_one)

    async def start_via_client(
        self, docs: list[Doc], concurrency: int, data_dir: Path
    ) -> BatchResult:
        """Starts through `SigningProcesses` on the Temporal client (no HTTP); one stored PDF.

        The document goes once into the stack's document store (a directory this process
        shares); every process then carries the same reference, as a business app would.
        """
        settings = Settings().with_overrides(documents={"root": str(data_dir / "documents")})
        store = document_store_from_settings(settings.documents)
        processes = SigningProcesses(self.client, settings, store)
        ref = await store.put(docs[0].pdf, filename="nda.pdf", content_type="application/pdf")

        async def start_one(doc: Doc) -> None:
            await processes.start(doc.request, ref, started_by="bench")

        return await run_batch(docs, concurrency, start_one)

    async def count(self, tag: str, condition: str) -> int:
        query = f'DocflowSourceRecord = "SFDC/Opportunity/{tag}" AND {condition}'
        return (await self.client.count_workflows(query)).count

    async def wait_count(self, tag: str, condition: str, expected: int, within_s: float) -> int:
        """Poll the visibility count once a second until it reaches `expected` or time is up."""
        deadline = time.monotonic() + within_s
        while True:
            found = await self.count(tag, condition)
            if found >= expected or time.monotonic() > deadline:
                return found
            await asyncio.sleep(COUNT_INTERVAL_S)

    async def wait_parked(self, tag: str, expected: int, within_s: float) -> int:
        return await self.wait_count(tag, PARKED, expected, within_s)

    async def wait_completed(self, tag: str, expected: int, within_s: float) -> int:
        return await self.wait_count(tag, COMPLETED, expected, within_s)

    async def documents(self, keys: list[str]) -> list[Parked]:
        """Each process's Core Signature document, from the simulator's control API."""
        response = await self.http.get(f"{self.core_signature_url}/_control/signature-requests")
        response.raise_for_status()
        by_external_id = {r["external_id"]: r["document_uuid"] for r in response.json()["results"]}
        return [
            Parked(key, by_external_id[f"{key}#1"]) for key in keys if f"{key}#1" in by_external_id
        ]

    async def sign_and_finish(self, parked: list[Parked], in_flight: int) -> BatchResult:
        """The signer signs each document (real callbacks follow); each waits for its end.

        At most `in_flight` signed processes are unfinished at once, so Core Signature's
        callbacks arrive at the pace the system completes them rather than as one storm
        that would exhaust the simulator's delivery retries.
        """

        async def sign(item: Parked) -> None:
            url = f"{self.core_signature_url}/_control/documents/{item.document_uuid}/sign"
            (await self.http.post(url)).raise_for_status()
            handle = self.client.get_workflow_handle(
                signing_workflow_id(item.key), result_type=SigningStatus
            )
            final = await asyncio.wait_for(handle.result(), timeout=FINISH_TIMEOUT_S)
            if final.state is not SigningState.COMPLETED:
                raise RuntimeError(f"ended {final.state.value}: {final.outcome_reason}")

        return await run_batch(parked, in_flight, sign)

    async def control(self, method: str, path: str, body: object | None = None) -> None:
        response = await self.http.request(
            method, f"{self.core_signature_url}/_control/{path}", json=body
        )
        response.raise_for_status()
