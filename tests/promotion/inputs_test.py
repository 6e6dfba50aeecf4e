"""What is refused before a promotion starts, and what its activities refuse outright: files
that are not the concerns, an environment with no release approver other than the proposer,
a candidate that is not an archive, a worker asked to change another environment."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.promotion.activities import PromotionActivities, candidate_files
from docflow.config.bundle import CONCERN_FILES, concern_texts
from docflow.config.versions import ConfigVersions
from docflow.docstore import LocalDocumentStore
from docflow.models.promotion import CandidateRequest
from docflow.records.store import RecordStore
from docflow.settings import DEFAULT_CONFIG_DIR, Settings
from starter.processes.base import InvalidProcessInput
from starter.processes.promotion import (
    ConfigPromotions,
    candidate_archive,
    check_files,
    retarget,
)

DEV_FILES = concern_texts(DEFAULT_CONFIG_DIR / "dev")


def test_only_every_concern_file_within_the_bound_is_a_candidate() -> None:
    check_files(DEV_FILES)  # every concern, nothing else: fine
    with pytest.raises(InvalidProcessInput, match=r"settings\.toml is deployment configuration"):
        check_files({**DEV_FILES, "settings.toml": "x = 1"})
    with pytest.raises(InvalidProcessInput, match=r"missing: records\.json"):
        check_files({k: v for k, v in DEV_FILES.items() if k != "records.json"})
    with pytest.raises(InvalidProcessInput, match="exceed 2 MiB"):
        check_files({**DEV_FILES, "records.json": "x" * (2 * 1024 * 1024 + 1)})


def test_promoted_files_name_their_target_environment() -> None:
    moved = retarget(DEV_FILES, "test")
    assert {json.loads(text)["environment"] for text in moved.values()} == {"test"}
    broken = retarget({"records.json": "{not json"}, "test")
    assert broken == {"records.json": "{not json"}  # left for validation to report


def promotions(tmp_path: Path, approvers: list[str]) -> ConfigPromotions:
    settings = Settings(profile="dev", data_dir=tmp_path, promotion={"approvers": approvers})
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    return ConfigPromotions(None, settings, LocalDocumentStore(tmp_path), ConfigVersions(store))  # type: ignore[arg-type]


async def test_a_promotion_needs_a_release_approver_other_than_its_proposer(
    tmp_path: Path,
) -> None:
    for approvers, why in (
        ([], "takes no promotions: it has no release approvers"),
        (["Dana@Example.com"], "only release approver of dev; someone else must approve"),
    ):
        with pytest.raises(InvalidProcessInput, match=why):
            await promotions(tmp_path, approvers).propose(
                DEV_FILES, source="dev", proposer="dana@example.com"
            )
    stage = promotions(tmp_path, ["dana@example.com", "rita@example.com"])._release_stage(
        "DANA@example.com"
    )
    assert stage.approvers == ["rita@example.com"]  # the proposer is never eligible


def test_a_candidate_must_be_a_bundle_archive() -> None:
    archive = candidate_archive(DEV_FILES, environment="dev", source="dev")
    assert set(candidate_files(archive)) == CONCERN_FILES
    for data, why in (
        (b"[1, 2]", "not a bundle archive"),
        (b'{"files": {"records.json": 1}}', "map file names to texts"),
        (b"\xff", "not a bundle archive"),
    ):
        with pytest.raises(ValueError, match=why):
            candidate_files(data)


async def test_a_worker_changes_only_its_own_environment(tmp_path: Path) -> None:
    settings = Settings(profile="dev", data_dir=tmp_path)
    store = LocalDocumentStore(tmp_path / "documents")
    ref = await store.put(b"[]", filename="c.json", content_type="application/json")
    records = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    async with httpx.AsyncClient() as http:
        acts = PromotionActivities(settings, store, ConfigVersions(records), http)
        with pytest.raises(ApplicationError) as wrong:
            await acts.check_candidate(CandidateRequest(environment="prod", candidate=ref))
        assert wrong.value.type == "WrongEnvironment" and wrong.value.non_retryable
        with pytest.raises(ApplicationError) as bad:
            await acts.check_candidate(CandidateRequest(environment="dev", candidate=ref))
        assert bad.value.type == "BadCandidate" and bad.value.non_retryable
    records.close()
