"""Work external applications request in ECM: a review task on a document (a human task whose
decision becomes the document's status metadata) and a content update (a new version of a
node, refused when the requester's base version is stale). The callers' bodies and the models
crossing the EcmReviewTaskWorkflow's and EcmContentUpdateWorkflow's boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from docflow.models.bounds import Caller
from docflow.models.documents import DocumentRef
from docflow.models.process import ProcessSummary
from docflow.models.signing import ApprovalStageSpec, Principal, Quorum
from docflow.models.status import StageStatus

# A requester's idempotency key: it goes into workflow ids and version descriptions.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
SYSTEM_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_NODE_ID = 2**53
MAX_VERSION_NUMBER = 1_000_000
MAX_TITLE = 200
MAX_TEXT = 4000
MAX_COMMENT = 2000
MAX_ASSIGNEES = 20
MAX_METADATA_CATEGORIES = 10
MAX_METADATA_FIELDS = 50
MAX_METADATA_VALUE = 2000
REVIEW_STAGE = "review"

Scalar = str | int | float | bool | None
NodeId = Annotated[int, Field(ge=1, le=MAX_NODE_ID)]


def review_workflow_id(system: str, request_id: str) -> str:
    return f"ecm-review:{system}:{request_id}"


def update_workflow_id(system: str, request_id: str) -> str:
    return f"ecm-update:{system}:{request_id}"


def request_key(system: str, request_id: str) -> str:
    """The business key of a request: `<system>/<request_id>`."""
    return f"{system}/{request_id}"


def version_marker(system: str, request_id: str) -> str:
    """What the version description of an update carries, so a retry finds its version."""
    return f"docflow:{system}:{request_id}"


# ------------------------------------------------------------------ review task
class ReviewTaskBody(BaseModel):
    """`POST /v1/ecm/review-tasks`: a review of one document version by people."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(
        default=None,
        pattern=SYSTEM_PATTERN,
        description="The requesting system (gets the callback); may be left out when the "
        "caller acts for exactly one system.",
    )
    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="Your idempotency key.")
    node_id: NodeId
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION_NUMBER, description="Default: the latest in ECM."
    )
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    instructions: str = Field(default="", max_length=MAX_TEXT)
    assignees: Annotated[list[Principal], Caller(max_length=MAX_ASSIGNEES)] = Field(
        min_length=1, max_length=MAX_ASSIGNEES
    )
    quorum: Quorum = Quorum.ANY
    deadline: timedelta | None = Field(default=None, gt=timedelta(0))
    reminder_before: timedelta | None = Field(default=None, ge=timedelta(0))
    escalation_to: Principal | None = None
    escalation_window: timedelta | None = Field(default=None, gt=timedelta(0))
    proposer: Principal | None = Field(
        default=None,
        description="The person who asked for the review in your application: never a "
        "reviewer of it (separation of duties).",
    )


class ReviewTaskInput(BaseModel):
    """Everything the review needs: the API and a lifecycle trigger's workflow (as a child,
    with its own id) start it the same way. No requester: nobody gets a callback."""

    key: str = Field(description="Business key, e.g. 'SFDC/REQ-1'.")
    requester: str | None = Field(default=None, description="Source system told the outcome.")
    request_id: str
    node_id: int
    version: int | None = None
    title: str
    instructions: str = ""
    stage: ApprovalStageSpec
    proposer: str | None = None
    started_by: str
    environment: str = ""


class ReviewOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class ReviewState(StrEnum):
    CHECKING = "checking"
    AWAITING_DECISION = "awaiting_decision"
    RECORDING = "recording"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"
    REFUSED = "refused"
    CANCELLED = "cancelled"


REVIEW_TERMINAL = frozenset(
    {
        ReviewState.APPROVED,
        ReviewState.REJECTED,
        ReviewState.CHANGES_REQUESTED,
        ReviewState.EXPIRED,
        ReviewState.REFUSED,
        ReviewState.CANCELLED,
    }
)


class ReviewDecisionBody(BaseModel):
    """`POST .../decision`: recorded for the authenticated caller."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "request_changes"]
    comment: str = Field(default="", max_length=MAX_COMMENT)


class DocumentCheck(BaseModel):
    node_id: int
    version: int | None = None


class DocumentFound(BaseModel):
    """The node and version confirmed in Content Server, or why not."""

    found: bool
    node_id: int
    name: str = ""
    version: int | None = None
    latest_version: int | None = None
    reason: str = ""


class ReviewStatusWrite(BaseModel):
    """The decision to write as the document's status category."""

    node_id: int
    outcome: ReviewOutcome
    decided_by: str = ""
    decided_at: datetime
    comment: str = ""


class StatusWritten(BaseModel):
    category_id: int
    values: dict[str, str]
    config_version: str = ""


class ReviewTaskStatus(ProcessSummary):
    requester: str | None = None
    request_id: str
    node_id: int
    version: int | None = None
    document_name: str = ""
    title: str
    proposer: str | None = None
    participants: list[str] = Field(default_factory=list)
    stage: StageStatus | None = None
    outcome: ReviewOutcome | None = None
    decided_by: str = ""
    decided_at: datetime | None = None
    comment: str = ""
    status_written: StatusWritten | None = None
    callback_workflow_id: str | None = None


class ReviewTaskAnswer(BaseModel):
    """The answer to a review request: the task's id, where to read it, its status."""

    workflow_id: str
    created: bool
    status_url: str
    status: ReviewTaskStatus


# --------------------------------------------------------------- content update
MetadataValues = Annotated[
    dict[str, Scalar], Caller(max_length=MAX_METADATA_FIELDS), Field(max_length=MAX_METADATA_FIELDS)
]


class ContentUpdateInput(BaseModel):
    """A new version of `node_id` on top of `base_version`, with category values
    (`{category name: {field: value}}`, the names of `ecm-requests.json`)."""

    key: str
    requester: str | None = None
    request_id: str
    node_id: int
    base_version: int
    document: DocumentRef
    metadata: dict[str, MetadataValues] = Field(
        default_factory=dict, max_length=MAX_METADATA_CATEGORIES
    )
    started_by: str
    environment: str = ""


class NodeVersions(BaseModel):
    """What the workflow needs to decide: the latest version and any earlier attempt's."""

    found: bool
    node_id: int
    latest_version: int | None = None
    marked_version: int | None = Field(
        default=None, description="The version whose description carries this request's marker."
    )
    reason: str = ""


class VersionUpload(BaseModel):
    node_id: int
    base_version: int
    marker: str
    document: DocumentRef


class VersionUploaded(BaseModel):
    version: int
    added: bool = Field(description="False: an earlier attempt had added it.")


class MetadataWrite(BaseModel):
    node_id: int
    metadata: dict[str, dict[str, Scalar]]


class MetadataApplied(BaseModel):
    category_ids: list[int] = Field(default_factory=list)
    config_version: str = ""


class ContentUpdateOutcome(StrEnum):
    UPDATED = "updated"
    CONFLICT = "conflict"
    REFUSED = "refused"
    FAILED = "failed"


class ContentUpdateResult(ProcessSummary):
    requester: str | None = None
    request_id: str
    node_id: int
    base_version: int
    outcome: ContentUpdateOutcome | None = None
    version: int | None = Field(default=None, description="The new version (updated).")
    current_version: int | None = Field(
        default=None, description="The node's latest version (a conflict names it)."
    )
    reason: str = ""
    metadata_applied: MetadataApplied | None = None
    callback_workflow_id: str | None = None


class ContentUpdateAnswer(BaseModel):
    workflow_id: str
    status_url: str
    result: ContentUpdateResult | None = Field(
        default=None, description="None while the update is still running (202)."
    )


def callback_payload(**fields: Any) -> dict[str, Any]:
    """A callback's `data`: JSON-ready values (datetimes as ISO strings)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
