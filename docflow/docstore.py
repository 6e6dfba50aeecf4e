"""The document store: bytes live here, workflows carry `DocumentRef`s (key + SHA-256).

Keys are content addressed (`sha256/ab/abcdef...`), so storing the same bytes twice is a
no-op and a retried activity never creates a second copy. A local directory serves the
embedded stack; an S3-compatible bucket serves production (`pip install docflow[s3]`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from docflow.filetypes import safe_filename
from docflow.models.documents import DocumentRef
from docflow.settings import DocumentStoreSettings


class DocumentIntegrityError(RuntimeError):
    """Stored bytes do not match the reference's SHA-256."""


class DocumentNotFoundError(KeyError):
    """No bytes under this key."""


def content_key(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256}"


class DocumentStore(Protocol):
    async def put(
        self, data: bytes, *, filename: str, content_type: str, version: int = 1
    ) -> DocumentRef: ...

    async def get(self, ref: DocumentRef) -> bytes: ...

    async def exists(self, ref: DocumentRef) -> bool: ...

    async def read_range(self, ref: DocumentRef, start: int, end: int) -> bytes:
        """Bytes `start`..`end` (inclusive) of a stored document, without reading the rest.
        Not verified against the hash (a part cannot be): the whole was, when it was put."""
        ...


def _verified(ref: DocumentRef, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        raise DocumentIntegrityError(f"bytes under {ref.key} do not match sha256 {ref.sha256}")
    return data


class LocalDocumentStore:
    """A directory on local disk; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        try:
            path = (self.root / key).resolve()
        except (OSError, ValueError) as exc:  # NUL bytes, names the file system refuses
            raise ValueError(f"not a document key: {key[:100]!r}") from exc
        if self.root.resolve() not in path.parents:
            raise ValueError(f"document key escapes the store: {key!r}")
        return path

    async def put(
        self, data: bytes, *, filename: str, content_type: str, version: int = 1
    ) -> DocumentRef:
        filename = safe_filename(filename)  # it ends up as an archived node's name
        sha = hashlib.sha256(data).hexdigest()
        key = content_key(sha)
        await asyncio.to_thread(self._write, key, data)
        return DocumentRef(
            key=key,
            sha256=sha,
            size=len(data),
            filename=filename,
            content_type=content_type,
            version=version,
        )

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    async def get(self, ref: DocumentRef) -> bytes:
        path = self._path(ref.key)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise DocumentNotFoundError(ref.key) from exc
        return _verified(ref, data)

    async def read_range(self, ref: DocumentRef, start: int, end: int) -> bytes:
        path = self._path(ref.key)

        def read() -> bytes:
            with path.open("rb") as handle:
                handle.seek(start)
                return handle.read(end - start + 1)

        try:
            return await asyncio.to_thread(read)
        except FileNotFoundError as exc:
            raise DocumentNotFoundError(ref.key) from exc

    async def exists(self, ref: DocumentRef) -> bool:
        """True only for a regular file inside the store (a directory is no document)."""
        try:
            return await asyncio.to_thread(self._path(ref.key).is_file)
        except OSError:  # e.g. a name longer than the file system allows
            return False


class S3DocumentStore:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph...) through boto3 in a worker thread."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, prefix: str = "") -> None:
        import boto3  # optional dependency: docflow[s3]

        self.bucket = bucket
        self.prefix = prefix
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url)

    async def put(
        self, data: bytes, *, filename: str, content_type: str, version: int = 1
    ) -> DocumentRef:
        filename = safe_filename(filename)  # it ends up as an archived node's name
        sha = hashlib.sha256(data).hexdigest()
        key = content_key(sha)
        await asyncio.to_thread(
            self._s3.put_object,
            Bucket=self.bucket,
            Key=self.prefix + key,
            Body=data,
            ContentType=content_type,
            Metadata={"sha256": sha},
        )
        return DocumentRef(
            key=key,
            sha256=sha,
            size=len(data),
            filename=filename,
            content_type=content_type,
            version=version,
        )

    async def get(self, ref: DocumentRef) -> bytes:
        try:
            response = await asyncio.to_thread(
                self._s3.get_object, Bucket=self.bucket, Key=self.prefix + ref.key
            )
        except self._s3.exceptions.NoSuchKey as exc:
            raise DocumentNotFoundError(ref.key) from exc
        return _verified(ref, await asyncio.to_thread(response["Body"].read))

    async def read_range(self, ref: DocumentRef, start: int, end: int) -> bytes:
        try:
            response = await asyncio.to_thread(
                self._s3.get_object,
                Bucket=self.bucket,
                Key=self.prefix + ref.key,
                Range=f"bytes={start}-{end}",
            )
        except self._s3.exceptions.NoSuchKey as exc:
            raise DocumentNotFoundError(ref.key) from exc
        return await asyncio.to_thread(response["Body"].read)

    async def exists(self, ref: DocumentRef) -> bool:
        try:
            await asyncio.to_thread(
                self._s3.head_object, Bucket=self.bucket, Key=self.prefix + ref.key
            )
        except Exception:
            return False
        return True


def document_store_from_settings(settings: DocumentStoreSettings) -> DocumentStore:
    if settings.kind == "s3":
        if not settings.s3_bucket:
            raise ValueError("documents.s3_bucket is required when documents.kind is 's3'")
        return S3DocumentStore(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, prefix=settings.s3_prefix
        )
    return LocalDocumentStore(settings.root)
