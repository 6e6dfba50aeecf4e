"""Master data into Amplience: the records a governed source sends (ERP/PIM product
information, reference content), the verdict on each, and the models crossing the
MasterDataWorkflow's boundaries."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from docflow.models.process import ProcessSummary, RecordState

# Names that go into workflow ids and delivery keys (a-zA-Z0-9-_ only: Amplience's delivery
# key alphabet without '/').
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
RECORD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
MAX_FIELDS = 200
MAX_BATCH = 100


class MasterDataRecord(BaseModel):
    """One record of a governed source; the newest `version` of a record wins."""

    source: str = Field(pattern=NAME_PATTERN, examples=["PIM"])
    # Lenient here (bounded only): `validate_record` names a bad type or id as a reason.
    record_type: str = Field(min_length=1, max_length=200, examples=["product"])
    record_id: str = Field(min_length=1, max_length=200, examples=["SKU-1001"])
    version: int = Field(ge=0, description="The source's version (or a timestamp) of the record.")
    fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_FIELDS)
    sent_by: str = Field(default="", max_length=200, description="Set by docflow's API.")

    @property
    def key(self) -> str:
        return master_data_key(self.source, self.record_type, self.record_id)


def master_data_key(source: str, record_type: str, record_id: str) -> str:
    return f"{source}/{record_type}/{record_id}"


class ItemDraft(BaseModel):
    """What a valid record becomes in Amplience (the bundle's mapping applied)."""

    repository_id: str
    schema_uri: str
    label: str
    delivery_key: str = Field(description="Also the durable half of the ledger.")
    body: dict[str, Any] = Field(description="Carries _meta.schema, name and deliveryKey.")
    locale: str | None = None
    publish: bool = False


class RecordVerdict(BaseModel):
    """A record accepted with its item, or refused with every reason."""

    accepted: bool
    reasons: list[str] = Field(default_factory=list)
    draft: ItemDraft | None = None
    config_version: str = ""


class DeliveryKeyLookup(BaseModel):
    delivery_key: str


class FoundItem(BaseModel):
    """The item holding a delivery key (None fields: no item has it)."""

    item_id: str | None = None
    version: int | None = None


class PublishOutcome(BaseModel):
    """Where publishing one written version ended."""

    version: int
    state: Literal["COMPLETED", "FAILED", "CANCELLED", "GAVE_UP"]
    job_id: str | None = None
    error: str = ""


class MasterDataState(StrEnum):
    WAITING = "waiting_for_record"
    WRITING = "writing"
    PUBLISHING = "publishing"
    IN_SYNC = "in_sync"
    REFUSED = "refused"
    PUBLISH_FAILED = "publish_failed"
    EXCEPTION = "master_data_exception"
    ENDED = "ended"


class MasterDataCarry(BaseModel):
    """Everything a record's workflow hands to its next run (the ledger among it)."""

    record: RecordState | None = None
    pending: MasterDataRecord | None = None
    newest_version: int = Field(default=-1, description="The newest version ever accepted.")
    applied_version: int = Field(default=-1, description="The version written to Amplience.")
    item_id: str | None = Field(default=None, description="The ledger: record id → item id.")
    item_version: int | None = None
    delivery_key: str | None = None
    refused_version: int | None = None
    failed_version: int | None = Field(
        default=None, description="Its write or publish did not succeed: it may be sent again."
    )
    reasons: list[str] = Field(default_factory=list, description="Why the last one failed.")
    publish: PublishOutcome | None = None
    applied: int = 0
    refused: int = 0
    ignored: int = 0
    runs: int = 0


class MasterDataInput(BaseModel):
    source: str = Field(pattern=NAME_PATTERN)
    record_type: str = Field(pattern=NAME_PATTERN)
    record_id: str = Field(pattern=RECORD_ID_PATTERN)
    environment: str = "dev"
    started_by: str = "system"
    history_budget: int = Field(default=5_000, ge=100)
    idle_days: float = Field(
        default=90.0,
        gt=0,
        description="A record idle this long ends its workflow (the delivery key finds the "
        "item again when the record comes back).",
    )
    resume: MasterDataCarry | None = None

    @property
    def key(self) -> str:
        return master_data_key(self.source, self.record_type, self.record_id)


class MasterDataStatus(ProcessSummary):
    source: str
    record_type: str
    record_id: str
    item_id: str | None = None
    item_version: int | None = None
    delivery_key: str | None = None
    newest_version: int = -1
    applied_version: int = -1
    refused_version: int | None = None
    reasons: list[str] = Field(default_factory=list)
    publish: PublishOutcome | None = None
    applied: int = 0
    refused: int = 0
    ignored: int = 0
    pending_version: int | None = Field(default=None, description="Waiting to be applied.")
    applying_version: int | None = Field(default=None, description="Being applied now.")


# ------------------------------------------------------------------ the API's batch
class RecordBody(BaseModel):
    """One record of a batch (its source is the path's)."""

    record_type: str = Field(min_length=1, max_length=200, examples=["product"])
    record_id: str = Field(min_length=1, max_length=200, examples=["SKU-1001"])
    version: int = Field(ge=0)
    fields: dict[str, Any] = Field(default_factory=dict, max_length=MAX_FIELDS)


class MasterDataBatch(BaseModel):
    records: list[RecordBody] = Field(min_length=1, max_length=MAX_BATCH)


class RecordAnswer(BaseModel):
    record_type: str
    record_id: str
    version: int
    outcome: Literal["accepted", "refused"]
    reasons: list[str] = Field(default_factory=list)
    workflow_id: str | None = None
    status_url: str | None = None


class BatchAnswer(BaseModel):
    accepted: int
    refused: int
    results: list[RecordAnswer]
