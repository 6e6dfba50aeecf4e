"""Custom search attributes that make every process findable in the Temporal Web UI."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

BUSINESS_KEY = SearchAttributeKey.for_keyword("DocflowBusinessKey")
SOURCE_RECORD = SearchAttributeKey.for_keyword("DocflowSourceRecord")
DOCUMENT_TYPE = SearchAttributeKey.for_keyword("DocflowDocumentType")
STATUS = SearchAttributeKey.for_keyword("DocflowStatus")
STAGE = SearchAttributeKey.for_keyword("DocflowStage")
ENVIRONMENT = SearchAttributeKey.for_keyword("DocflowEnvironment")

ALL = (BUSINESS_KEY, SOURCE_RECORD, DOCUMENT_TYPE, STATUS, STAGE, ENVIRONMENT)


def dev_server_args() -> list[str]:
    """`--search-attribute` flags registering these on `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args
