"""What a configuration bundle's live validation found: one check per id the bundle names,
against the target environment's real systems (Core Signature, Content Server, Amplience, the
distribution targets and the ECM event subscribers)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LiveSystem = Literal["core_signature", "content_server", "amplience", "target", "subscriber"]

MAX_MESSAGE = 1000
MAX_CHECKS = 2000


class LiveCheck(BaseModel):
    """One thing the bundle names, looked up in the environment: found (ok) or not, and why."""

    model_config = ConfigDict(frozen=True)

    system: LiveSystem
    file: str = Field(max_length=200, description="Bundle file, e.g. 'signing-routing.json'.")
    path: str = Field(
        max_length=500, description="Field path in it, e.g. 'rules[0].signature_template'."
    )
    subject: str = Field(max_length=300, description="e.g. \"signature template 'nda-v1'\".")
    ok: bool
    message: str = Field(max_length=MAX_MESSAGE)

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        return f"{self.file}: {self.path}: {self.subject}: {verdict}: {self.message}"


class LiveReport(BaseModel):
    """Every live check of one bundle against one environment."""

    checks: list[LiveCheck] = Field(default_factory=list, max_length=MAX_CHECKS)

    @property
    def problems(self) -> list[LiveCheck]:
        """The failed checks, in check order."""
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.problems

    def systems(self) -> set[LiveSystem]:
        """The systems that were checked (a system the bundle does not use is not)."""
        return {c.system for c in self.checks}
