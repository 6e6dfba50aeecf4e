"""The validation activity: routing rules of this environment plus a document-store check."""

from __future__ import annotations

from temporalio import activity

from docflow.models import SigningProcessInput, ValidationResult


class ValidationActivities:
    @activity.defn(name="validate_signing_request")
    async def validate_signing_request(self, process: SigningProcessInput) -> ValidationResult:
        raise NotImplementedError
