"""A promotion's activities, run by the environment's own workers (so "live" means this
environment's systems, with its endpoints and credentials):

- `check_promotion_candidate`: the candidate against the current configuration — the diff,
  and every static problem (schemas, cross-references, secret references that do not
  resolve here, production endpoints or secrets named outside production);
- `check_promotion_live`: the ids the candidate names, looked up in the live systems;
- `apply_promotion_candidate`: the candidate as the environment's next configuration version,
  atomically and only if the environment is still on the version that was checked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.environment.live_checks import check_live
from docflow.config.bundle import CONCERN_FILES, Bundle, BundleError, concern_texts, load_bundle
from docflow.config.diff import diff_bundles, render_text
from docflow.config.versions import ConfigVersions, VersionConflict
from docflow.docstore import DocumentStore
from docflow.models.environment import LiveReport
from docflow.models.promotion import (
    MAX_DIFF_TEXT,
    MAX_PROBLEMS,
    ApplyRequest,
    ApplyResult,
    CandidateCheck,
    CandidateRequest,
)
from docflow.settings import Settings


def candidate_files(data: bytes) -> dict[str, str]:
    """The concern files of a candidate document (a bundle archive: `{"files": {...}}`)."""
    try:
        archive = json.loads(data)
        files = archive["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the candidate is not a bundle archive: {exc}") from None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise ValueError("the candidate's files must map file names to texts")
    return {name: text for name, text in files.items() if name in CONCERN_FILES}


class PromotionActivities:
    def __init__(
        self,
        settings: Settings,
        store: DocumentStore,
        versions: ConfigVersions,
        http: httpx.AsyncClient,
    ) -> None:
        self._settings = settings
        self._store = store
        self._versions = versions
        self._http = http

    @activity.defn(name="check_promotion_candidate")
    async def check_candidate(self, request: CandidateRequest) -> CandidateCheck:
        self._own(request.environment)
        files = await self._candidate(request)
        current = await asyncio.to_thread(self._versions.current, request.environment)
        current_files = current.files if current is not None else self._directory_files()
        problems: list[str] = []
        try:
            bundle = self._load(files, check_secrets=True)
            candidate_content = bundle.version
        except BundleError as exc:
            problems = [str(p) for p in exc.problems]
            candidate_content = ""
        unknown = sorted(set(files) ^ CONCERN_FILES)
        problems.extend(f"{name}: missing from the candidate" for name in unknown)
        diff = diff_bundles(current_files, files, left_label="current", right_label="candidate")
        changed = [f.file for f in diff.files if f.status != "same"]
        text = render_text(diff)
        current_bundle = await asyncio.to_thread(self._current_bundle, current_files)
        check = CandidateCheck(
            environment=request.environment,
            current=current.number if current is not None else None,
            current_content=current_bundle,
            candidate_content=candidate_content,
            changed_files=changed,
            diff_summary=text.rstrip().rsplit("\n", 1)[-1] if text else "no changes",
            diff_text=text if len(text) <= MAX_DIFF_TEXT else text[:MAX_DIFF_TEXT] + "\n…",
            problems=problems[:MAX_PROBLEMS],
        )
        activity.logger.info(
            "promotion candidate for %s against %s: %s; %d problem(s)",
            request.environment,
            f"v{check.current}" if check.current else "files",
            check.diff_summary,
            len(problems),
        )
        return check

    @activity.defn(name="check_promotion_live")
    async def check_live(self, request: CandidateRequest) -> LiveReport:
        self._own(request.environment)
        files = await self._candidate(request)
        try:
            bundle = await asyncio.to_thread(self._load, files, check_secrets=False)
        except BundleError as exc:  # checked statically first; only a race gets here
            raise ApplicationError(str(exc), type="ConfigBundleError", non_retryable=True) from exc
        report = await check_live(bundle, self._settings, self._http)
        activity.logger.info(
            "live checks of the candidate for %s: %d checked, %d failed",
            request.environment,
            len(report.checks),
            len(report.problems),
        )
        return report

    @activity.defn(name="apply_promotion_candidate")
    async def apply(self, request: ApplyRequest) -> ApplyResult:
        self._own(request.environment)
        files = await self._candidate(
            CandidateRequest(environment=request.environment, candidate=request.candidate)
        )
        try:
            applied = await asyncio.to_thread(
                self._versions.apply,
                request.environment,
                files,
                content_version=request.candidate_content,
                change_id=f"{request.kind}:{request.promotion_id}",
                kind=request.kind,
                expected=request.expected,
                source=request.source,
                proposer=request.proposer,
                approver=request.approver,
                summary=request.summary,
            )
        except VersionConflict as exc:
            activity.logger.warning("promotion %s not applied: %s", request.promotion_id, exc)
            return ApplyResult(applied=False, conflict=str(exc))
        activity.logger.info(
            "applied %s %s to %s as configuration version %d",
            request.kind,
            request.promotion_id,
            request.environment,
            applied.number,
        )
        return ApplyResult(applied=True, number=applied.number)

    # ---------------------------------------------------------------- helpers
    def _own(self, environment: str) -> None:
        """A worker changes only its own environment's configuration."""
        if environment != self._settings.profile:
            raise ApplicationError(
                f"this worker serves {self._settings.profile!r}, not {environment!r}: a "
                "promotion runs in its target environment's namespace and task queue",
                type="WrongEnvironment",
                non_retryable=True,
            )

    async def _candidate(self, request: CandidateRequest) -> dict[str, str]:
        data = await self._store.get(request.candidate)
        try:
            return candidate_files(data)
        except ValueError as exc:
            raise ApplicationError(str(exc), type="BadCandidate", non_retryable=True) from exc

    def _load(self, files: Mapping[str, str], *, check_secrets: bool) -> Bundle:
        return load_bundle(
            self._settings.profile,
            self._settings.config_dir,
            check_secrets=check_secrets,
            concern_files=files,
        )

    def _directory_files(self) -> dict[str, str]:
        return concern_texts(self._settings.config_dir / self._settings.profile)

    def _current_bundle(self, files: Mapping[str, str]) -> str:
        try:
            return self._load(files, check_secrets=False).version
        except BundleError:
            return ""  # the running configuration is broken: the candidate repairs it
