"""The validation activity: routing rules of this environment plus a document-store check."""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from docflow.docstore import DocumentIntegrityError, DocumentNotFoundError, DocumentStore
from docflow.models import SigningProcessInput, ValidationResult
from docflow.routing import RoutingRules, decide_route
from docflow.settings import Settings


class ValidationActivities:
    def __init__(self, settings: Settings, store: DocumentStore) -> None:
        self._rules_path = settings.routing_rules_path
        self._store = store
        self._cached: tuple[int, RoutingRules] | None = None

    @activity.defn(name="validate_signing_request")
    async def validate_signing_request(self, process: SigningProcessInput) -> ValidationResult:
        rules = await self._rules()
        result = decide_route(rules, process)
        document_problem = await self._document_problem(process)
        if document_problem:
            result = ValidationResult(accepted=False, reasons=[*result.reasons, document_problem])
        activity.logger.info(
            "validated %s against rules %s: %s",
            process.request.business_key,
            rules.version,
            "accepted" if result.accepted else "refused: " + "; ".join(result.reasons),
        )
        return result

    async def _rules(self) -> RoutingRules:
        """The routing rules, reloaded when the file changes. A missing or invalid file is a
        configuration fault: the activity retries until an operator fixes it."""
        path = self._rules_path
        try:
            mtime = path.stat().st_mtime_ns
            if self._cached is not None and self._cached[0] == mtime:
                return self._cached[1]
            rules = await asyncio.to_thread(RoutingRules.load, path)
        except (OSError, ValueError, ValidationError) as exc:
            raise ApplicationError(
                f"routing rules {path} cannot be loaded: {exc}", type="RoutingRulesError"
            ) from exc
        self._cached = (mtime, rules)
        activity.logger.info("loaded routing rules %s (version %s)", path, rules.version)
        return rules

    async def _document_problem(self, process: SigningProcessInput) -> str | None:
        ref = process.document
        try:
            data = await self._store.get(ref)
        except DocumentNotFoundError:
            return f"document {ref.filename!r} ({ref.key}) is not in the document store"
        except DocumentIntegrityError:
            return f"stored bytes of {ref.filename!r} ({ref.key}) do not match sha256 {ref.sha256}"
        if len(data) != ref.size:
            return f"document {ref.filename!r} has {len(data)} bytes, the reference says {ref.size}"
        return None
