"""The process API's wire shapes (our design, external-apis.md §5): what docflow POSTs and
what the system answers. The workflow sees `docflow.models.business_processes` only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from docflow.models.business_processes import (
    BusinessProcess,
    ProcessBusinessObject,
    ProcessDocument,
    ProcessStart,
)


class StartBody(BaseModel):
    """`POST {processes_endpoint}`; the idempotency key travels as a header."""

    process: str
    reference: str
    document: ProcessDocument
    business_object: ProcessBusinessObject | None = None
    data: dict[str, Any]

    @classmethod
    def of(cls, start: ProcessStart) -> StartBody:
        return cls(
            process=start.process,
            reference=start.reference,
            document=start.document,
            business_object=start.business_object,
            data=start.data,
        )


class ProcessAnswer(BusinessProcess):
    """The system's answer; fields docflow does not use (document, business_object) are
    tolerated."""

    model_config = ConfigDict(extra="ignore")

    def plain(self) -> BusinessProcess:
        return BusinessProcess.model_validate(
            self.model_dump(include=set(BusinessProcess.model_fields))
        )
