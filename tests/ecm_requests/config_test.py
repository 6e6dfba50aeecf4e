"""`ecm-requests.json`: metadata mapped to `<cat>_<attr>` keys (every unknown name refused), the
policy's own consistency, requesters known to the source-system registry, and the review
defaults and maxima the API applies (`review_input`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from docflow.config.bundle import load_bundle
from docflow.config.concern import Concerns
from docflow.config.ecm_requests import EcmRequests, MetadataProblem, ReviewPolicy, map_metadata
from docflow.config.source_systems import SourceSystems
from docflow.models.ecm_requests import ReviewTaskBody
from starter.processes.base import InvalidProcessInput
from starter.processes.ecm_requests import review_input
from tests.api.conftest import make_settings


@pytest.fixture
def config() -> EcmRequests:
    return load_bundle(check_secrets=False).get(EcmRequests)


def test_metadata_maps_to_category_attribute_keys(config: EcmRequests) -> None:
    mapped = map_metadata(
        config.update, {"document_info": {"document_type": "contract", "source_id": "X1"}}
    )
    assert mapped == {9300: {"9300_1": "contract", "9300_3": "X1"}}


def test_every_unknown_category_and_field_is_named(config: EcmRequests) -> None:
    with pytest.raises(MetadataProblem) as refused:
        map_metadata(config.update, {"secret": {"a": 1}, "document_info": {"b": 2, "c": 3}})
    assert refused.value.problems == [
        "unknown category 'secret' (allowed: document_info)",
        "document_info: unknown fields b, c",
    ]


def test_a_policy_must_be_consistent(config: EcmRequests) -> None:
    review: dict[str, Any] = config.review.model_dump()
    with pytest.raises(ValidationError, match="longer than max_deadline"):
        ReviewPolicy.model_validate({**review, "default_deadline": timedelta(days=90)})
    values = {k: v for k, v in review["status_values"].items() if k != "expired"}
    with pytest.raises(ValidationError, match="status_values lacks expired"):
        ReviewPolicy.model_validate({**review, "status_values": values})


def test_requesters_must_be_registered_source_systems(config: EcmRequests) -> None:
    systems = load_bundle(check_secrets=False).get(SourceSystems)
    unknown = config.model_copy(update={"requesters": ["SFDC", "NOPE"]})
    problems = list(unknown.references(Concerns({SourceSystems: systems})))
    assert problems == [("requesters.1", "'NOPE' is not in source-systems.json")]


def test_review_input_applies_the_defaults_and_refuses_every_problem(
    config: EcmRequests, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, "tq")
    body = ReviewTaskBody(
        request_id="R-1", node_id=7, title="Check", assignees=["alice@example.com"]
    )
    task = review_input(config, settings, body, "SFDC", "app:crm")
    assert task.key == "SFDC/R-1" and task.requester == "SFDC"
    assert task.stage.deadline == config.review.default_deadline
    assert task.stage.reminder_before == config.review.default_reminder_before
    assert task.stage.escalation_window == config.review.default_escalation_window
    bad = body.model_copy(
        update={
            "assignees": ["alice@example.com", "app:crm", "zed@example.com"],
            "deadline": timedelta(days=31),
            "proposer": "alice@example.com",
        }
    )
    with pytest.raises(InvalidProcessInput) as refused:
        review_input(config, settings, bad, "WORKDAY", "app:crm")
    assert refused.value.message.split("; ") == [
        "WORKDAY may not request work in ECM in this environment",
        f"deadline is longer than {config.review.max_deadline}",
        "app:crm is an application, not a person",
        "zed@example.com is not a known reviewer (an API key with approvals:decide, or "
        "api.approvers)",
        "alice@example.com proposed the review and cannot review it",
    ]
