"""Filing documents into workspace folders, the one mechanism behind `file_document`,
`file_documents` and `archive_document`.

A document is found by its exact name in its folder: the same SHA-256 as its newest version
writes nothing ("unchanged"), other bytes add a version ("new_version"), no node uploads one
with its categories ("created"), then retention is applied. Every write carries
`sha256 <hex>` in its description, so a retry recognises what an earlier attempt wrote, and a
concurrent duplicate's "already exists" means "look it up again", never a second node.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from temporalio.exceptions import ApplicationError

from activities.content_server.client import ContentServerClient
from activities.content_server.models import BUSINESS_WORKSPACE, DOCUMENT, FOLDER, NodeProperties
from activities.content_server.provisioning import Provisioner, flat_categories, log
from activities.http.errors import AlreadyExistsError
from activities.http.heartbeat import beat
from docflow.docstore import DocumentStore
from docflow.models.workspaces import FiledDocument, FileDocumentInput

_SHA = re.compile(r"sha256 ([0-9a-f]{64})")
CONTAINERS = frozenset({FOLDER, BUSINESS_WORKSPACE})

# One writer per (folder, name) in this process: two activities filing the same document at
# once would otherwise both see the old version and both add one.
_locks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = weakref.WeakValueDictionary()


def sha_description(sha256: str) -> str:
    return f"sha256 {sha256}"


def sha_in(text: str | None) -> str | None:
    match = _SHA.search(text or "")
    return match.group(1) if match else None


@dataclass
class Latest:
    number: int
    sha256: str


class Filer:
    """Files documents from the document store into one Content Server."""

    def __init__(
        self,
        client: ContentServerClient,
        store: DocumentStore,
        provisioner: Provisioner,
        link: Callable[[int], str],
    ) -> None:
        self._client = client
        self._store = store
        self._provisioner = provisioner
        self._link = link

    async def file(
        self,
        item: FileDocumentInput,
        *,
        folders: dict[tuple[int, str | None], int] | None = None,
        same_bytes: dict[str, NodeProperties] | None = None,
    ) -> FiledDocument:
        """File one document. `folders` caches folder ids across a batch; with `same_bytes`
        (SHA-256 -> node already in the folder), bytes filed under another name count as
        filed."""
        folder_id = await self.folder_id(item.workspace_id, item.folder, folders)
        sha = item.document.sha256
        lock = _locks.setdefault((folder_id, item.name.casefold()), asyncio.Lock())
        async with lock:
            if same_bytes is not None and sha in same_bytes:
                twin = same_bytes[sha]
                latest = await self._latest(twin)
                log().info("%r: these bytes are filed as node %s already", item.name, twin.id)
                return self._filed(twin, latest.number, folder_id, sha, "unchanged")
            existing = await self._client.find_child_by_name(folder_id, item.name)
            if existing is None:
                created = await self._upload(item, folder_id)
                if created is not None:
                    await self._provisioner.classify(created.id, item.rm_classification_id)
                    if same_bytes is not None:
                        same_bytes[sha] = created
                    return self._filed(created, 1, folder_id, sha, "created")
                existing = await self._client.find_child_by_name(folder_id, item.name)
                if existing is None:
                    raise ApplicationError(
                        f"{item.name!r} in folder {folder_id} 'already exists' but is not found",
                        type="FilingConflict",
                    )
                log().info("%r was filed concurrently as node %s", item.name, existing.id)
            return await self._existing(item, existing, folder_id, same_bytes)

    async def file_all(
        self, workspace_id: int, items: Sequence[FileDocumentInput], *, dedupe_sha256: bool
    ) -> list[FiledDocument]:
        """File a batch; with `dedupe_sha256` each target folder is listed once and bytes
        already in it (under any name) are "unchanged". Heartbeats per item."""
        folders: dict[tuple[int, str | None], int] = {}
        indexes: dict[int, dict[str, NodeProperties]] = {}
        filed: list[FiledDocument] = []
        for n, item in enumerate(items):
            if item.workspace_id != workspace_id:
                raise ApplicationError(
                    f"item {n} ({item.name!r}) is for workspace {item.workspace_id}, "
                    f"the batch for {workspace_id}",
                    type="InvalidBatch",
                    non_retryable=True,
                )
            same_bytes = None
            if dedupe_sha256:
                folder_id = await self.folder_id(item.workspace_id, item.folder, folders)
                if folder_id not in indexes:
                    indexes[folder_id] = await self._sha_index(folder_id)
                same_bytes = indexes[folder_id]
            filed.append(await self.file(item, folders=folders, same_bytes=same_bytes))
            beat({"filed": n + 1, "of": len(items)})
        return filed

    async def folder_id(
        self,
        workspace_id: int,
        folder: str | None,
        cache: dict[tuple[int, str | None], int] | None = None,
    ) -> int:
        """The workspace's sub-folder of that name (made when the template has none); the
        workspace itself for None."""
        if folder is None:
            return workspace_id
        key = (workspace_id, folder)
        if cache is not None and key in cache:
            return cache[key]
        found = await self._client.find_child_by_name(workspace_id, folder)
        if found is None:
            try:
                found = await self._client.create_folder(workspace_id, folder)
                log().info("created folder %r (%s) in workspace %s", folder, found.id, workspace_id)
            except AlreadyExistsError:
                found = await self._client.find_child_by_name(workspace_id, folder)
                if found is None:
                    raise
        if found.type not in CONTAINERS:
            raise ApplicationError(
                f"{folder!r} in workspace {workspace_id} is not a folder (node {found.id})",
                type="FolderConflict",
                non_retryable=True,
            )
        if cache is not None:
            cache[key] = found.id
        return found.id

    async def _upload(self, item: FileDocumentInput, folder_id: int) -> NodeProperties | None:
        """The new node, or None when the name was taken meanwhile."""
        content = await self._store.get(item.document)
        try:
            node = await self._client.upload_document(
                parent_id=folder_id,
                name=item.name,
                content=content,
                content_type=item.document.content_type,
                categories=flat_categories(item.category_id, item.category_values),
                description=sha_description(item.document.sha256),
            )
        except AlreadyExistsError:
            return None
        log().info(
            "filed %r as node %s in folder %s (%d bytes)",
            item.name,
            node.id,
            folder_id,
            len(content),
        )
        return node

    async def _existing(
        self,
        item: FileDocumentInput,
        node: NodeProperties,
        folder_id: int,
        same_bytes: dict[str, NodeProperties] | None,
    ) -> FiledDocument:
        sha = item.document.sha256
        if node.type != DOCUMENT:
            raise ApplicationError(
                f"{item.name!r} in folder {folder_id} is not a document (node {node.id})",
                type="FilingConflict",
                non_retryable=True,
            )
        latest = await self._latest(node)
        # An earlier attempt may have written it and failed before classifying it.
        await self._provisioner.classify(node.id, item.rm_classification_id)
        if latest.sha256 == sha:
            log().info("%r (node %s) has these bytes already", item.name, node.id)
            return self._filed(node, latest.number, folder_id, sha, "unchanged")
        content = await self._store.get(item.document)
        answer = await self._client.add_version(
            node.id,
            filename=item.name,
            content=content,
            content_type=item.document.content_type,
            description=sha_description(sha),
        )
        props = ((answer.get("results") or {}).get("data") or {}).get("properties") or {}
        number = int(props.get("version_number") or latest.number + 1)
        if same_bytes is not None:
            same_bytes[sha] = node
        log().info("%r (node %s): new version %s", item.name, node.id, number)
        return self._filed(node, number, folder_id, sha, "new_version")

    async def _latest(self, node: NodeProperties) -> Latest:
        """The newest version and its SHA-256: from its description (ours carry it), the
        node's for a first version, else from its bytes."""
        versions = await self._client.list_versions(node.id)
        if not versions:
            return Latest(0, "")
        newest = versions[-1]
        sha = sha_in(newest.description)
        if sha is None and newest.version_number == 1:
            sha = sha_in(node.description)
        if sha is None:
            content = await self._client.version_content(node.id, newest.version_number)
            sha = hashlib.sha256(content).hexdigest()
        return Latest(newest.version_number, sha)

    async def _sha_index(self, folder_id: int) -> dict[str, NodeProperties]:
        """SHA-256 -> document for what the folder holds (from the descriptions we write)."""
        index: dict[str, NodeProperties] = {}
        async for child in self._client.children(folder_id):
            sha = sha_in(child.description)
            if child.type == DOCUMENT and sha is not None:
                index.setdefault(sha, child)
        return index

    def _filed(
        self, node: NodeProperties, version: int, folder_id: int, sha: str, outcome: str
    ) -> FiledDocument:
        return FiledDocument.model_validate(
            {
                "node_id": node.id,
                "version": max(version, 1),
                "name": node.name,
                "folder_id": folder_id,
                "link": self._link(node.id),
                "sha256": sha,
                "outcome": outcome,
            }
        )
