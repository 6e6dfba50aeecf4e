"""`ConfigPromotions`: configuration promotions and rollbacks of this environment, one
ConfigPromotionWorkflow per promotion id (the same id again is the same promotion).

The candidate's files go into the document store (the workflow carries a reference with
their SHA-256); release approvers come from this environment's `settings.toml [promotion]`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from docflow import search_attributes as sa
from docflow.config.bundle import CONCERN_FILES, concern_texts
from docflow.config.versions import ConfigVersions, NothingToRollBack
from docflow.docstore import DocumentStore
from docflow.models import ApprovalDecision, ApprovalStageSpec, Decision, Quorum, UpdateAccepted
from docflow.models.documents import DocumentRef
from docflow.models.promotion import (
    PromotionInput,
    PromotionKind,
    PromotionState,
    PromotionStatus,
    promotion_workflow_id,
)
from docflow.settings import Settings
from starter.processes.base import (
    InvalidProcessInput,
    ProcessClient,
    ProcessRuleViolation,
    StartResult,
)

MAX_CANDIDATE_BYTES = 2 * 1024 * 1024
RELEASE_STAGE = "release"


def candidate_archive(files: Mapping[str, str], *, environment: str, source: str) -> bytes:
    """The candidate as a bundle archive (what `docflow config export` writes)."""
    return json.dumps(
        {"profile": environment, "source": source, "files": dict(sorted(files.items()))},
        ensure_ascii=False,
        indent=1,
    ).encode()


def bundle_files(settings: Settings) -> dict[str, str]:
    """The concern files of this environment's bundle directory (what runs before the first
    applied version)."""
    return concern_texts(settings.config_dir / settings.profile)


def retarget(files: Mapping[str, str], environment: str) -> dict[str, str]:
    """The files as written for `environment`: each concern's `environment` field names the
    bundle it belongs to, so promoted files name their target (text left as is otherwise;
    a file that does not parse is left for validation to report)."""
    retargeted: dict[str, str] = {}
    for name, text in files.items():
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("environment", environment) != environment:
            text = json.dumps({**data, "environment": environment}, indent=2, ensure_ascii=False)
            text += "\n"
        retargeted[name] = text
    return retargeted


def check_files(files: Mapping[str, str]) -> None:
    """Only concern files, every one of them, within the size bound (else 422)."""
    problems = []
    if unknown := sorted(set(files) - CONCERN_FILES):
        problems.append(
            f"not configuration concern files: {', '.join(unknown)} (settings.toml is "
            "deployment configuration and is not promoted)"
        )
    if missing := sorted(CONCERN_FILES - set(files)):
        problems.append(f"missing: {', '.join(missing)} (a promotion carries every concern)")
    if sum(len(text.encode()) for text in files.values()) > MAX_CANDIDATE_BYTES:
        problems.append(f"the files exceed {MAX_CANDIDATE_BYTES // (1024 * 1024)} MiB")
    if problems:
        raise InvalidProcessInput("; ".join(problems))


class ConfigPromotions(ProcessClient):
    workflow_type = "ConfigPromotionWorkflow"
    process_name = "configuration promotion"

    def __init__(
        self,
        client: Client,
        settings: Settings,
        store: DocumentStore,
        versions: ConfigVersions,
    ) -> None:
        super().__init__(client, settings)
        self.store = store
        self.versions = versions

    @property
    def environment(self) -> str:
        return self.settings.profile

    def workflow_id(self, key: str) -> str:
        return promotion_workflow_id(self.environment, key)

    def fingerprint(self, arg: object) -> dict[str, str] | None:
        if not isinstance(arg, PromotionInput):
            return None
        return {"kind": arg.kind, "candidate": arg.candidate.sha256}

    # ---------------------------------------------------------------- start
    async def propose(
        self,
        files: Mapping[str, str],
        *,
        source: str,
        proposer: str,
        reason: str = "",
        promotion_id: str | None = None,
    ) -> StartResult:
        check_files(files)
        files = retarget(files, self.environment)
        approval = self._release_stage(proposer)
        data = candidate_archive(files, environment=self.environment, source=source)
        # Without an id of the caller's, each proposal is a new promotion (the same files may
        # be proposed again once the target system is fixed); pass one to retry idempotently.
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        key = promotion_id or f"{_slug(source)}-{stamp}-{uuid.uuid4().hex[:6]}"
        candidate = await self._put(data, key)
        return await self._start("promotion", key, candidate, source, proposer, reason, approval)

    async def rollback(self, *, actor: str, reason: str) -> StartResult:
        """Re-apply what the current version replaced (one rollback per current version)."""
        try:
            current, previous = await asyncio.to_thread(
                self.versions.rollback_target, self.environment
            )
        except NothingToRollBack as exc:
            raise ProcessRuleViolation(str(exc)) from exc
        if previous is None:
            files = bundle_files(self.settings)
            source = f"the bundle's files (rolling back version {current.number})"
        else:
            files = previous.files
            source = f"version {previous.number} (rolling back version {current.number})"
        data = candidate_archive(files, environment=self.environment, source=source)
        key = f"rollback-v{current.number}"
        candidate = await self._put(data, key)
        return await self._start("rollback", key, candidate, source, actor, reason, None)

    async def _start(
        self,
        kind: PromotionKind,
        key: str,
        candidate: DocumentRef,
        source: str,
        proposer: str,
        reason: str,
        approval: ApprovalStageSpec | None,
    ) -> StartResult:
        request = PromotionInput(
            promotion_id=key,
            kind=kind,
            environment=self.environment,
            source=source,
            candidate=candidate,
            proposer=proposer,
            reason=reason,
            approval=approval,
        )
        people = [proposer, *(approval.approvers if approval else [])]
        return await self.start_process(
            key,
            request,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BUSINESS_KEY, key),
                    SearchAttributePair(sa.SOURCE_RECORD, f"{kind} to {self.environment}"),
                    SearchAttributePair(sa.DOCUMENT_TYPE, "config_promotion"),
                    SearchAttributePair(sa.ENVIRONMENT, self.environment),
                    SearchAttributePair(sa.STATUS, PromotionState.VALIDATING.value),
                    SearchAttributePair(sa.SOURCE_SYSTEM, source[:64]),
                    SearchAttributePair(sa.PARTICIPANTS, sorted({p.casefold() for p in people})),
                ]
            ),
            static_summary=f"Configuration {kind} {key} to {self.environment} from {source}",
        )

    def _release_stage(self, proposer: str) -> ApprovalStageSpec:
        policy = self.settings.promotion
        others = [a for a in policy.approvers if a.casefold() != proposer.casefold()]
        if not policy.approvers:
            raise InvalidProcessInput(
                f"{self.environment} takes no promotions: it has no release approvers "
                "(settings.toml [promotion] approvers)"
            )
        if not others:
            raise InvalidProcessInput(
                f"{proposer} is the only release approver of {self.environment}; someone "
                "else must approve a promotion (separation of duties)"
            )
        return ApprovalStageSpec(
            name=RELEASE_STAGE,
            approvers=others,
            quorum=Quorum(policy.quorum),
            deadline=policy.deadline,
            reminder_before=policy.reminder_before,
            escalation_approver=policy.escalation_approver,
            escalation_window=policy.escalation_window,
        )

    async def _put(self, data: bytes, key: str) -> DocumentRef:
        return await self.store.put(
            data, filename=f"config-{self.environment}-{key}.json", content_type="application/json"
        )

    # ------------------------------------------------------------- operate
    async def status(self, key: str) -> PromotionStatus:
        return await self.query(key, "status", result_type=PromotionStatus)

    async def decide(
        self,
        key: str,
        actor: str,
        decision: Decision,
        comment: str,
        *,
        idempotency_key: str | None = None,
    ) -> UpdateAccepted:
        return await self.update(
            key,
            "decide",
            ApprovalDecision(actor=actor, decision=decision, comment=comment),
            result_type=UpdateAccepted,
            request_id=idempotency_key,
        )


def _slug(source: str) -> str:
    kept = "".join(c if c.isalnum() or c in "._-" else "-" for c in source).strip("-._")
    return (kept or "candidate")[:40]
