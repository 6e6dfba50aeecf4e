"""The base every concern's schema extends, and how one concern sees the others it refers to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class ConcernFile(BaseModel):
    """One concern's file in a bundle: a human version label, the environment it is written
    for, and the concern's own fields. Unknown fields are errors, so a typo is not ignored."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, description="Human label, e.g. '2026-11-01.1'.")
    environment: str = Field(description="The profile this file is for; must match its bundle.")

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.model_validate(json.loads(path.read_text()))

    def references(self, others: Concerns) -> Iterator[tuple[str, str]]:
        """Cross-reference problems as (field path, message); override to check some."""
        return iter(())


C = TypeVar("C", bound=ConcernFile)


class Concerns:
    """The concerns of a bundle that loaded, by schema."""

    def __init__(self, loaded: dict[type[ConcernFile], ConcernFile]) -> None:
        self._loaded = loaded

    def get(self, schema: type[C]) -> C | None:
        found = self._loaded.get(schema)
        return found if isinstance(found, schema) else None
