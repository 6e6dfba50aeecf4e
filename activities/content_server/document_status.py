"""Activities for work external applications request in ECM: confirm a document version, write
a review's decision as the document's status category, and add a requested version once.

Idempotent by construction: the status category is applied when absent and updated when
present (`set_categories`); a new version carries the request's marker in its description,
and the upload looks for it first, so a retried activity never adds a second version. Only
these activities read `ecm-requests.json`; each answer names the bundle version applied.
"""

from __future__ import annotations

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.models import DOCUMENT, DocumentVersion
from activities.http.error_mapping import current_bundle, external_call
from activities.http.errors import NotFoundError
from docflow.config.bundle import BundleReader, bundle_reader
from docflow.config.ecm_requests import EcmRequests, MetadataProblem, map_metadata
from docflow.docstore import DocumentStore
from docflow.models.ecm_requests import (
    DocumentCheck,
    DocumentFound,
    MetadataApplied,
    MetadataWrite,
    NodeVersions,
    ReviewStatusWrite,
    StatusWritten,
    VersionUpload,
    VersionUploaded,
)
from docflow.settings import Settings

MAX_DESCRIPTION = 255
# A status comment attribute is a text field: long comments are cut (the trail keeps them).
MAX_STATUS_COMMENT = 1000
# Refusals retrying cannot change: the workflow turns them into a reported outcome.
VERSION_CONFLICT = "VersionConflict"
METADATA_REFUSED = "MetadataRefused"


def carries(description: str | None, marker: str) -> bool:
    return marker in (description or "").split()


def marked(versions: list[DocumentVersion], marker: str) -> DocumentVersion | None:
    return next((v for v in reversed(versions) if carries(v.description, marker)), None)


class EcmRequestActivities:
    def __init__(
        self, client: ContentServerClient, store: DocumentStore, config: BundleReader
    ) -> None:
        self._client = client
        self._store = store
        self._config = config

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient, store: DocumentStore
    ) -> EcmRequestActivities:
        otcs = settings.content_server
        auth = OtcsTicketAuth(
            http,
            otcs.base_url,
            otcs.username,
            settings.secret(otcs.password),
            timeout_s=otcs.timeout_s,
        )
        client = ContentServerClient(http, otcs.base_url, auth, timeout_s=otcs.timeout_s)
        return cls(client, store, bundle_reader(settings))

    async def _policy(self) -> tuple[EcmRequests, str]:
        bundle = await current_bundle(self._config)
        return bundle.get(EcmRequests), bundle.version

    # ---------------------------------------------------------------- review
    @activity.defn(name="ecm_confirm_document")
    async def confirm_document(self, check: DocumentCheck) -> DocumentFound:
        """The document node and the version to review (the latest when none is named); an
        unknown node, a node that is no document, or an unknown version: found=False."""
        node_id = check.node_id
        with external_call(f"read node {node_id}"):
            try:
                node = await self._client.get_node(node_id, fields=("properties",))
            except NotFoundError:
                return DocumentFound(
                    found=False, node_id=node_id, reason=f"node {node_id} does not exist"
                )
            props = node.properties
            if props.type != DOCUMENT:
                return DocumentFound(
                    found=False,
                    node_id=node_id,
                    name=props.name,
                    reason=f"node {node_id} is not a document (type {props.type})",
                )
            versions = await self._client.list_versions(node_id)
        latest = versions[-1].version_number if versions else None
        wanted = check.version or latest
        if wanted is None or all(v.version_number != wanted for v in versions):
            return DocumentFound(
                found=False,
                node_id=node_id,
                name=props.name,
                latest_version=latest,
                reason=f"node {node_id} has no version {wanted} (latest: {latest})",
            )
        return DocumentFound(
            found=True, node_id=node_id, name=props.name, version=wanted, latest_version=latest
        )

    @activity.defn(name="ecm_write_review_status")
    async def write_review_status(self, write: ReviewStatusWrite) -> StatusWritten:
        """The decision as the document's status category (applied when absent, updated when
        present): status value per the configured mapping, decided by, at, comment."""
        policy, version = await self._policy()
        review = policy.review
        category = review.status_category
        value = review.status_values.get(write.outcome.value, write.outcome.value)
        values = {
            category.key(category.status): value,
            category.key(category.decided_by): write.decided_by,
            category.key(category.decided_at): write.decided_at.isoformat(),
            category.key(category.comment): write.comment[:MAX_STATUS_COMMENT],
        }
        with external_call(f"write review status of node {write.node_id}"):
            await self._client.set_categories(write.node_id, category.category_id, values)
        activity.logger.info(
            "node %s: review status %r written (category %s, bundle %s)",
            write.node_id,
            value,
            category.category_id,
            version,
        )
        return StatusWritten(
            category_id=category.category_id, values=values, config_version=version
        )

    # ---------------------------------------------------------------- update
    @activity.defn(name="ecm_node_versions")
    async def node_versions(self, request: VersionUpload) -> NodeVersions:
        """The node's latest version, and the version an earlier attempt of this request
        added (its marker in the description), if any."""
        node_id = request.node_id
        with external_call(f"list versions of node {node_id}"):
            try:
                versions = await self._client.list_versions(node_id)
            except NotFoundError:
                return NodeVersions(
                    found=False, node_id=node_id, reason=f"node {node_id} does not exist"
                )
        earlier = marked(versions, request.marker)
        return NodeVersions(
            found=True,
            node_id=node_id,
            latest_version=versions[-1].version_number if versions else None,
            marked_version=earlier.version_number if earlier else None,
        )

    @activity.defn(name="ecm_add_version")
    async def add_version(self, request: VersionUpload) -> VersionUploaded:
        """Add the stored document as the node's next version, once: a version carrying the
        request's marker is the answer; a latest version other than the base is refused
        (`VersionConflict`, the current version in the details)."""
        node_id = request.node_id
        with external_call(f"add a version to node {node_id}"):
            versions = await self._client.list_versions(node_id)
            earlier = marked(versions, request.marker)
            if earlier is not None:
                return VersionUploaded(version=earlier.version_number, added=False)
            latest = versions[-1].version_number if versions else 0
            if latest != request.base_version:
                raise ApplicationError(
                    f"node {node_id} is at version {latest}, not {request.base_version}",
                    {"current_version": latest},
                    type=VERSION_CONFLICT,
                    non_retryable=True,
                )
            content = await self._store.get(request.document)
            description = f"{request.marker} sha256 {request.document.sha256}"
            answer = await self._client.add_version(
                node_id,
                filename=request.document.filename,
                content=content,
                content_type=request.document.content_type,
                description=description[:MAX_DESCRIPTION],
            )
        props = ((answer.get("results") or {}).get("data") or {}).get("properties") or {}
        number = int(props.get("version_number") or latest + 1)
        activity.logger.info("node %s: version %s added (%s)", node_id, number, request.marker)
        return VersionUploaded(version=number, added=True)

    @activity.defn(name="ecm_apply_metadata")
    async def apply_metadata(self, write: MetadataWrite) -> MetadataApplied:
        """The requester's category values through the configured mapping; a category or
        field the configuration no longer allows is refused (`MetadataRefused`)."""
        policy, version = await self._policy()
        try:
            mapped = map_metadata(policy.update, write.metadata)
        except MetadataProblem as exc:
            raise ApplicationError(str(exc), type=METADATA_REFUSED, non_retryable=True) from exc
        with external_call(f"set metadata of node {write.node_id}"):
            for category_id, values in mapped.items():
                await self._client.set_categories(write.node_id, category_id, values)
        return MetadataApplied(category_ids=sorted(mapped), config_version=version)
