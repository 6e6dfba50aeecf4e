"""The process API's wire shapes (our design, external-apis.md §5): what docflow POSTs and
what the system answers (`BusinessProcess`; fields docflow does not use, such as the
document it echoes, are ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from docflow.models.business_processes import (
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
