"""Custom search attributes that make every process findable in the Temporal Web UI.

The operator's attributes answer "which processes are stuck?" in one query each:
`DocflowSince` (since when in the current state), `DocflowDeadline` (the current wait's
deadline), `DocflowAttention` (why a person must look; absent when nobody must),
`DocflowSourceSystem` and `DocflowParticipants` (who may see a process: its source system,
and the case-folded identities of its approvers and escalation approvers), `DocflowTargets`
(the downstream targets a content item is distributed to).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

BUSINESS_KEY = SearchAttributeKey.for_keyword("DocflowBusinessKey")
SOURCE_RECORD = SearchAttributeKey.for_keyword("DocflowSourceRecord")
DOCUMENT_TYPE = SearchAttributeKey.for_keyword("DocflowDocumentType")
STATUS = SearchAttributeKey.for_keyword("DocflowStatus")
STAGE = SearchAttributeKey.for_keyword("DocflowStage")
ENVIRONMENT = SearchAttributeKey.for_keyword("DocflowEnvironment")
SINCE = SearchAttributeKey.for_datetime("DocflowSince")
DEADLINE = SearchAttributeKey.for_datetime("DocflowDeadline")
ATTENTION = SearchAttributeKey.for_keyword("DocflowAttention")
SOURCE_SYSTEM = SearchAttributeKey.for_keyword("DocflowSourceSystem")
PARTICIPANTS = SearchAttributeKey.for_keyword_list("DocflowParticipants")
TARGETS = SearchAttributeKey.for_keyword_list("DocflowTargets")

ALL: tuple[SearchAttributeKey[Any], ...] = (
    BUSINESS_KEY,
    SOURCE_RECORD,
    DOCUMENT_TYPE,
    STATUS,
    STAGE,
    ENVIRONMENT,
    SINCE,
    DEADLINE,
    ATTENTION,
    SOURCE_SYSTEM,
    PARTICIPANTS,
    TARGETS,
)

# Why a person must look at a process (the values of DocflowAttention).
STEP_RETRYING = "step_retrying"  # a step has been retrying past its expected time
EXCEPTION_OPEN = "exception_open"  # an exception waits for support (correct, repair, cancel)
REPORT_DEAD_LETTERED = "report_dead_lettered"  # the source never accepted the status report
DELIVERY_DEAD_LETTERED = "delivery_dead_lettered"  # a target never accepted a delivered message
DISTRIBUTION_FAILED = "distribution_failed"  # a content target refused or gave up
RELAY_FAILED = "relay_failed"  # an ECM event was dead-lettered for a subscriber
ENDPOINT_DISABLED = "endpoint_disabled"  # an ECM subscriber's endpoint was disabled

# The names `temporal operator search-attribute create --type` and `start-dev` use.
TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def type_name(key: SearchAttributeKey[Any]) -> str:
    return TYPE_NAMES[key.indexed_value_type]


def indexed_value_types() -> dict[str, int]:
    """Name → IndexedValueType number, for `OperatorService.add_search_attributes`."""
    return {key.name: int(key.indexed_value_type) for key in ALL}


def dev_server_args() -> list[str]:
    """`--search-attribute` flags registering these on `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={type_name(key)}"]
    return args


class _Stage(Protocol):
    approvers: list[str]
    escalation_approver: str | None


def participants(stages: Iterable[_Stage]) -> list[str]:
    """DocflowParticipants: the case-folded approvers and escalation approvers, sorted."""
    people = {a for stage in stages for a in [*stage.approvers, stage.escalation_approver] if a}
    return sorted(p.casefold() for p in people)
