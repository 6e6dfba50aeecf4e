"""The live report: problems are the failed checks, ok means none failed; sizes are bounded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from docflow.models.environment import MAX_CHECKS, LiveCheck, LiveReport


def check(ok: bool, path: str = "rules[0].signature_template") -> LiveCheck:
    return LiveCheck(
        system="core_signature",
        file="signing-routing.json",
        path=path,
        subject="signature template 'nda-v1'",
        ok=ok,
        message="found" if ok else "Core Signature has no template named 'nda-v1'",
    )


def test_problems_are_the_failed_checks() -> None:
    report = LiveReport(checks=[check(True), check(False, "rules[1].signature_template")])
    assert [p.path for p in report.problems] == ["rules[1].signature_template"]
    assert not report.ok
    assert LiveReport(checks=[check(True)]).ok and LiveReport().ok
    assert str(report.problems[0]) == (
        "signing-routing.json: rules[1].signature_template: signature template 'nda-v1': "
        "FAILED: Core Signature has no template named 'nda-v1'"
    )


def test_sizes_are_bounded() -> None:
    with pytest.raises(ValidationError):
        LiveCheck.model_validate({**check(True).model_dump(), "message": "x" * 5000})
    with pytest.raises(ValidationError):
        LiveReport(checks=[check(True)] * (MAX_CHECKS + 1))


def test_a_report_survives_a_round_trip() -> None:
    report = LiveReport(checks=[check(True), check(False)])
    assert LiveReport.model_validate_json(report.model_dump_json()) == report
