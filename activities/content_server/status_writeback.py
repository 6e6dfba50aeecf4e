"""The status of a lifecycle action written on its document in Content Server: the status
value (and a short detail) in the document's status category, as the rule's write-back says.

Idempotent: values already there write nothing; otherwise `set_categories` updates an applied
category (PUT) and applies an absent one with the values (POST), so a retried activity and a
repeated outcome leave the same metadata.
"""

from __future__ import annotations

import httpx
from temporalio import activity

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.http.error_mapping import external_call
from docflow.models.business_processes import StatusWrite, StatusWritten
from docflow.settings import Settings

MAX_VALUE = 250  # a text attribute's usual limit in Content Server categories


def status_values(write: StatusWrite) -> dict[str, str]:
    """`<cat>_<attr>` -> value: the outcome's configured status text, and the detail."""
    writeback = write.writeback
    status = writeback.values.get(write.outcome) or write.outcome.replace("_", " ").capitalize()
    values = {writeback.status_attribute: status[:MAX_VALUE]}
    if writeback.detail_attribute:
        values[writeback.detail_attribute] = write.detail[:MAX_VALUE]
    return values


class StatusWritebackActivities:
    def __init__(self, client: ContentServerClient) -> None:
        self._client = client

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient
    ) -> StatusWritebackActivities:
        """The activity under the service account's ticket, on the shared pool."""
        otcs = settings.content_server
        auth = OtcsTicketAuth(
            http,
            otcs.base_url,
            otcs.username,
            settings.secret(otcs.password),
            timeout_s=otcs.timeout_s,
        )
        return cls(ContentServerClient(http, otcs.base_url, auth, timeout_s=otcs.timeout_s))

    @activity.defn(name="write_ecm_status")
    async def write_ecm_status(self, write: StatusWrite) -> StatusWritten:
        """Set the status (and detail) attributes on the node; nothing when already set."""
        category_id = write.writeback.category_id
        values = status_values(write)
        with external_call(f"write status {write.outcome!r} on node {write.node_id}"):
            applied = await self._client.get_categories(write.node_id)
            current = applied.get(category_id)
            if current is not None and all(
                str(current.get(key) or "") == value for key, value in values.items()
            ):
                return StatusWritten(category_id=category_id, values=values, applied=False)
            await self._client.set_categories(write.node_id, category_id, values)
        activity.logger.info(
            "node %s: category %s %s %s",
            write.node_id,
            category_id,
            "set" if current else "applied",
            values,
        )
        return StatusWritten(category_id=category_id, values=values, applied=current is None)
