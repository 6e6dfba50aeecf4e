"""Schema: the read model's records-management facts (`records.json`) — the retention classes
(Content Server records-management classifications) with how many years a record is kept after
its retention clock starts, so the read model can show each record's disposition date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile


class RetentionClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, description="Records-management classification id in Content Server.")
    name: str = Field(min_length=1, max_length=128)
    years: int = Field(ge=0, le=200, description="Kept this long after the clock starts.")


class Records(ConcernFile):
    retention_classes: list[RetentionClass] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _unique(self) -> Records:
        ids = [c.id for c in self.retention_classes]
        if len(ids) != len(set(ids)):
            raise ValueError("retention class ids must be unique")
        return self

    def retention(self, class_id: int | None) -> RetentionClass | None:
        return next((c for c in self.retention_classes if c.id == class_id), None)

    def disposition_at(self, class_id: int | None, start: datetime | None) -> datetime | None:
        """When a record of this class may be disposed of (None: unknown class or clock)."""
        found = self.retention(class_id)
        if found is None or start is None:
            return None
        try:
            return start.replace(year=start.year + found.years)
        except ValueError:  # 29 February into a common year
            return start.replace(year=start.year + found.years, day=28)

    def class_ids(self) -> Iterator[int]:
        return (c.id for c in self.retention_classes)
