"""State of the forms-portal simulator: form submissions (each a PDF) per case reference.

Seeded content is deterministic: the same case reference and index give the same id and
bytes. A duplicate is a resubmission: another id, byte-identical PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from simulators.kit.faults import FaultInjector, FaultSettings
from simulators.kit.listing import Outage, sha256
from simulators.kit.pdf import make_pdf

EPOCH = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
FORMS = ("claim-notification", "damage-report", "bank-details", "witness-statement")


class FormsSeed(BaseModel):
    """`POST /_control/seed`: a case's submissions (replacing what the case had)."""

    case_reference: str = Field(min_length=1, max_length=200)
    count: int = Field(default=3, ge=0, le=10_000)
    duplicates: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Resubmissions of the first form: another id, the very same PDF bytes.",
    )


class FormsPortalConfig(BaseModel):
    seed: int = 0
    api_key: str = "dev-forms-portal-key"
    cases: list[FormsSeed] = Field(
        default_factory=lambda: [FormsSeed(case_reference="CLM-2026-001", count=2, duplicates=1)],
        description="Seeded at start and on reset.",
    )
    faults: FaultSettings = Field(default_factory=FaultSettings)


@dataclass
class Submission:
    id: str
    case_reference: str
    form: str
    submitted_at: datetime
    submitted_by: str
    pdf: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "submitted_at": self.submitted_at.isoformat(),
            "submitted_by": self.submitted_by,
            "size": len(self.pdf),
            "sha256": sha256(self.pdf),
        }


class FormsPortalSim:
    """All state of the simulator; reachable as `app.state.sim`."""

    def __init__(self, config: FormsPortalConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.outage = Outage()
        self.reset()

    def reset(self) -> None:
        self.cases: dict[str, list[Submission]] = {}
        self.submissions: dict[str, Submission] = {}
        self.downloads = 0
        self.faults.configure(self.config.faults)
        self.outage = Outage()
        for seed in self.config.cases:
            self.seed(seed)

    def seed(self, seed: FormsSeed) -> list[Submission]:
        for old in self.cases.pop(seed.case_reference, []):
            self.submissions.pop(old.id, None)
        ref = seed.case_reference
        submissions = [_submission(ref, n) for n in range(1, seed.count + 1)]
        if submissions:
            first = submissions[0]
            for n in range(seed.count + 1, seed.count + seed.duplicates + 1):
                again = _submission(ref, n)
                again.form, again.pdf = first.form, first.pdf
                submissions.append(again)
        self.cases[ref] = submissions
        for submission in submissions:
            self.submissions[submission.id] = submission
        return submissions

    def summary(self) -> dict[str, Any]:
        return {
            "cases": {ref: {"submissions": len(s)} for ref, s in self.cases.items()},
            "downloads": self.downloads,
        }


def _submission(ref: str, n: int) -> Submission:
    key = "".join(c for c in ref if c.isalnum())[:40] or "CASE"
    form = FORMS[(n - 1) % len(FORMS)]
    submitted_by = f"customer{n % 5}@example.com"
    pdf = make_pdf(
        f"{form.replace('-', ' ').title()} ({ref})",
        [f"Submission {n} for case {ref}.", f"Form: {form}", f"Submitted by: {submitted_by}"],
    )
    return Submission(
        id=f"{key}-F{n:05d}",
        case_reference=ref,
        form=form,
        submitted_at=EPOCH + timedelta(minutes=30 * n),
        submitted_by=submitted_by,
        pdf=pdf,
    )
