"""`MasterDataRecords`: the workflow of each master data record (PIM/ERP → Amplience) — its
records delivered by signal-with-start, and its status.

`verdicts` applies the bundle's mapping to a batch before anything starts, with the same pure
function the workflow's validation activity uses, so a record refused over HTTP is refused
for the same reasons the workflow would give.
"""

from __future__ import annotations

from temporalio.common import SearchAttributePair, TypedSearchAttributes

from docflow import search_attributes as sa
from docflow.config.bundle import BundleReader
from docflow.config.master_data import MasterData, validate_record
from docflow.models.master_data import (
    MasterDataInput,
    MasterDataRecord,
    MasterDataState,
    MasterDataStatus,
    RecordVerdict,
    master_data_key,
)
from docflow.temporal import master_data_workflow_id
from starter.processes.base import ProcessClient, ProcessRun


class MasterDataRecords(ProcessClient):
    """The long-lived master data processes of one environment, one per record."""

    workflow_type = "MasterDataWorkflow"
    process_name = "master data process"

    def workflow_id(self, key: str) -> str:
        source, record_type, record_id = key.split("/", 2)
        return master_data_workflow_id(source, record_type, record_id)

    async def send(self, record: MasterDataRecord) -> ProcessRun:
        """Signal-with-start the record's workflow (the newest version wins there)."""
        return await self.signal_with_start(
            record.key,
            "master_data_record",
            record,
            MasterDataInput(
                source=record.source,
                record_type=record.record_type,
                record_id=record.record_id,
                environment=self.settings.profile,
                started_by=record.sent_by or record.source,
            ),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, record.key),
                    SearchAttributePair(sa.SOURCE_RECORD, record.key),
                    SearchAttributePair(sa.DOCUMENT_TYPE, record.record_type),
                    SearchAttributePair(sa.ENVIRONMENT, self.settings.profile),
                    SearchAttributePair(sa.SOURCE_SYSTEM, record.source),
                    SearchAttributePair(sa.STATUS, MasterDataState.WAITING.value),
                ]
            ),
            static_summary=f"Master data {record.record_type} {record.record_id} "
            f"({record.source}) into Amplience",
        )

    async def status(self, source: str, record_type: str, record_id: str) -> MasterDataStatus:
        return await self.query(
            master_data_key(source, record_type, record_id),
            "status",
            result_type=MasterDataStatus,
        )


async def verdicts(config: BundleReader, records: list[MasterDataRecord]) -> list[RecordVerdict]:
    """Each record's verdict under this environment's mapping (every reason a record is
    refused), before anything starts."""
    bundle = await config.current()
    mapping = bundle.get(MasterData)
    return [validate_record(mapping, r, config_version=bundle.version) for r in records]
