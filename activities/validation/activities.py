"""The validation activity: the environment's bundle (source-system registry, routing rules)
plus a document-store check; the result carries the versions that were applied."""

from __future__ import annotations

from temporalio import activity

from activities.http.error_mapping import current_bundle
from docflow.config.bundle import Bundle, bundle_reader
from docflow.config.master_data import MasterData, validate_record
from docflow.config.routing import RoutingRules, decide_route
from docflow.config.source_systems import SourceSystems
from docflow.config.workspaces import WorkspaceMappings, plan_workspace
from docflow.docstore import DocumentIntegrityError, DocumentNotFoundError, DocumentStore
from docflow.models import CorrectionCheck, SigningProcessInput, ValidationResult
from docflow.models.master_data import MasterDataRecord, RecordVerdict
from docflow.models.workspaces import PlanRequest, PlanResult
from docflow.settings import Settings


class ValidationActivities:
    def __init__(self, settings: Settings, store: DocumentStore) -> None:
        self._config = bundle_reader(settings)
        self._store = store

    @activity.defn(name="validate_signing_request")
    async def validate_signing_request(self, process: SigningProcessInput) -> ValidationResult:
        bundle = await self._bundle()
        rules = bundle.get(RoutingRules)
        registry = bundle.get(SourceSystems)
        system = process.request.source.system
        if system not in registry.systems:
            # One clear reason: routing would only repeat it as "no rule for this system".
            result = ValidationResult(
                accepted=False,
                reasons=[
                    f"source system {system!r} is not registered in {bundle.profile} "
                    f"(source systems {registry.version})"
                ],
            )
        else:
            result = decide_route(rules, process)
        document_problem = await self._document_problem(process)
        if document_problem:
            result = ValidationResult(accepted=False, reasons=[*result.reasons, document_problem])
        result.config_version = bundle.version
        if result.route is not None:
            result.route.config_version = bundle.version
        track = rules.track(process.request.business_key, system)
        activity.logger.info(
            "validated %s against %s rules %s (bundle %s): %s",
            process.request.business_key,
            track,
            rules.rule_set(track)[0],
            bundle.label,
            "accepted" if result.accepted else "refused: " + "; ".join(result.reasons),
        )
        return result

    @activity.defn(name="validate_signature_correction")
    async def validate_correction(self, check: CorrectionCheck) -> ValidationResult:
        """The routing rules again, for a correction's new signers (count, allowed domains):
        support fixes a bounced address within the rules the request had to meet."""
        bundle = await self._bundle()
        routed = check.route.rules_version if check.route is not None else None
        reasons = decide_route(
            bundle.get(RoutingRules), check.corrected, rules_version=routed
        ).reasons
        activity.logger.info(
            "correction of %s: %s",
            check.corrected.request.business_key,
            "accepted" if not reasons else "refused: " + "; ".join(reasons),
        )
        return ValidationResult(
            accepted=not reasons, reasons=reasons, config_version=bundle.version
        )

    @activity.defn(name="plan_workspace")
    async def plan_workspace(self, request: PlanRequest) -> PlanResult:
        """What this environment's workspace mapping makes of a business object's fields (or
        every reason it cannot); the plan carries the bundle version it came from."""
        bundle = await self._bundle()
        result = plan_workspace(
            bundle.get(WorkspaceMappings),
            request,
            config_version=bundle.version,
            portal_type=request.portal_type,
        )
        activity.logger.info(
            "planned the workspace of %s (bundle %s): %s",
            request.object.key,
            bundle.label,
            "accepted" if result.accepted else "refused: " + "; ".join(result.reasons),
        )
        return result

    @activity.defn(name="validate_master_data")
    async def validate_master_data(self, record: MasterDataRecord) -> RecordVerdict:
        """The Amplience item a master data record becomes under this environment's mapping,
        or every reason it is refused; the verdict carries the bundle version applied."""
        bundle = await self._bundle()
        verdict = validate_record(bundle.get(MasterData), record, config_version=bundle.version)
        activity.logger.info(
            "validated master data %s v%d (bundle %s): %s",
            record.key,
            record.version,
            bundle.label,
            "accepted" if verdict.accepted else "refused: " + "; ".join(verdict.reasons),
        )
        return verdict

    async def _bundle(self) -> Bundle:
        return await current_bundle(self._config)

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
