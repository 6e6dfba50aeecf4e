"""Request and response bodies of the HTTP API (the workflow's own models are reused as is).

Bodies never carry an `actor`: the API fills it from the authenticated caller, and unknown
fields are ignored, so a client cannot speak for someone else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docflow.models import Decision, DocumentRef, Signer, SigningRequest
from docflow.models.approvals import RepairAction
from docflow.models.signing import MAX_SIGNERS, repeated

_DOCUMENT_EXAMPLE = {
    "key": "sha256/9f/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "size": 48213,
    "filename": "MSA-Acme.pdf",
    "content_type": "application/pdf",
    "version": 1,
}


class StartSigningProcess(BaseModel):
    """Start a signing process for a document uploaded before (`POST /v1/documents`)."""

    request: SigningRequest
    document: DocumentRef

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request": {
                        "business_key": "SFDC-Q-1001",
                        "document_type": "sales_contract",
                        "title": "Master Services Agreement - Acme",
                        "source": {
                            "system": "SFDC",
                            "record_type": "Opportunity",
                            "record_id": "0065g00000XYZ",
                            "account_name": "Acme Corp",
                        },
                        "approval_stages": [
                            {"name": "legal", "approvers": ["alice@example.com"]},
                        ],
                        "signers": [
                            {"email": "cfo@acme.example", "first_name": "Ada", "last_name": "Lee"}
                        ],
                        "workspace": {
                            "ext_system_id": "SFDC",
                            "bo_type": "Account",
                            "bo_id": "0015g00000ABC",
                            "name": "Acme Corp",
                        },
                    },
                    "document": _DOCUMENT_EXAMPLE,
                }
            ]
        }
    )


class StartedProcess(BaseModel):
    workflow_id: str = Field(examples=["signing-SFDC-Q-1001"])
    run_id: str
    created: bool = Field(description="False when the business key already had a run.")
    status_url: str = Field(examples=["http://127.0.0.1:8100/v1/signing-processes/SFDC-Q-1001"])
    web_ui_url: str = Field(description="The process in the Temporal Web UI.")


class DecisionBody(BaseModel):
    """An approver's decision; recorded for the authenticated caller."""

    decision: Decision
    comment: str = Field(default="", max_length=4000)
    stage: str | None = Field(
        default=None,
        max_length=200,
        description="If given, must name the open stage (guards against races).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"decision": "approve", "comment": "Terms OK", "stage": "legal"}]
        }
    )


class NewVersionBody(BaseModel):
    """A revised document (uploaded before) after changes were requested."""

    document: DocumentRef
    comment: str = Field(default="", max_length=4000)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"document": {**_DOCUMENT_EXAMPLE, "version": 2}, "comment": "clause 7 fixed"}
            ]
        }
    )


class RepairBody(BaseModel):
    """Support's answer to a step that gave up (e.g. archiving): retry after fixing, or abandon."""

    action: RepairAction
    comment: str = Field(default="", max_length=4000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"action": "retry", "comment": "category 9001 restored in ECM"}]
        },
    )


class CorrectionBody(BaseModel):
    """Fix a signature exception: new signers and/or a new document version."""

    signers: list[Signer] | None = Field(default=None, max_length=MAX_SIGNERS)
    document: DocumentRef | None = None
    comment: str = Field(default="", max_length=4000)

    @field_validator("signers")
    @classmethod
    def _distinct_signers(cls, value: list[Signer] | None) -> list[Signer] | None:
        if value and (twice := repeated([signer.email for signer in value])):
            raise ValueError(f"each signer once (e-mails compared case-insensitively): {twice}")
        return value

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signers": [{"email": "cfo.new@acme.example", "first_name": "Ada"}],
                    "comment": "old address bounced",
                }
            ]
        }
    )


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=4000, examples=["deal lost"])


class CallbackAck(BaseModel):
    status: str = Field(description="'accepted' or 'ignored'", examples=["accepted"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])
