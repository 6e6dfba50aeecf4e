"""Activities that read a case's items from its configured sources (`case-sources.json`)."""

from __future__ import annotations

from temporalio import activity

from docflow.models.workspaces import CaseItem, CaseItemsPage, FetchCaseItems, ListCaseItems


class CaseSourceActivities:
    @activity.defn(name="list_case_items")
    async def list_case_items(self, request: ListCaseItems) -> CaseItemsPage:
        """One page of a source's items for a case reference (no content)."""
        raise NotImplementedError("list_case_items")

    @activity.defn(name="fetch_case_items")
    async def fetch_case_items(self, batch: FetchCaseItems) -> list[CaseItem]:
        """Copy a batch's bytes into the document store; the items come back with `document`."""
        raise NotImplementedError("fetch_case_items")
