"""What a document is, by its bytes: file signatures checked against the declared type and name.

A caller's content type and file name are claims; the first bytes decide. Only document types
Core Signature and Extended ECM take are accepted. File names become ECM node names, so they
are reduced to a plain, bounded base name.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_FILENAME_LENGTH = 200
FALLBACK_FILENAME = "document"
GENERIC_CONTENT_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True)
class DocumentKind:
    name: str
    content_type: str
    content_types: frozenset[str]
    extensions: frozenset[str]


PDF = DocumentKind("PDF", "application/pdf", frozenset({"application/pdf"}), frozenset({".pdf"}))
DOCX = DocumentKind(
    "Word document (DOCX)",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    frozenset({".docx"}),
)
DOC = DocumentKind(
    "Word 97-2003 document (DOC)",
    "application/msword",
    frozenset({"application/msword"}),
    frozenset({".doc"}),
)
ACCEPTED = (PDF, DOCX, DOC)

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Adobe readers accept the header anywhere in the first 1024 bytes.
_PDF_HEADER_WINDOW = 1024


class DocumentTypeError(ValueError):
    """The bytes are not an accepted document, or not the one the caller declared."""


def sniff(data: bytes) -> tuple[DocumentKind | None, str]:
    """(accepted kind or None, what the bytes look like, for messages)."""
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return PDF, PDF.name
    if data.startswith(_ZIP):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return None, "a damaged ZIP archive"
        if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
            return DOCX, DOCX.name
        return None, "a ZIP archive"
    if data.startswith(_OLE):
        return DOC, DOC.name
    return None, "no known document format"


def check_document(data: bytes, filename: str, content_type: str) -> str:
    """The document's content type, or `DocumentTypeError` saying what does not match.

    The bytes must be an accepted kind; a declared content type (other than a generic one)
    and the file name's extension must both name that kind.
    """
    kind, looks_like = sniff(data)
    accepted = ", ".join(k.name for k in ACCEPTED)
    if kind is None:
        raise DocumentTypeError(f"unsupported document: the bytes are {looks_like} ({accepted})")
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared not in GENERIC_CONTENT_TYPES and declared not in kind.content_types:
        raise DocumentTypeError(
            f"the document was declared as {declared} but its bytes are a {kind.name}"
        )
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix and suffix not in kind.extensions:
        raise DocumentTypeError(
            f"the file name {filename!r} ends in {suffix} but its bytes are a {kind.name}"
        )
    return kind.content_type


def safe_filename(name: str) -> str:
    """A plain base name: no directories, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(c).startswith(("C", "Z")) else c for c in name)
    name = " ".join(name.split()).strip(". ")
    if len(name) > MAX_FILENAME_LENGTH:
        path = PurePosixPath(name)
        suffix = path.suffix if len(path.suffix) <= 16 else ""
        name = name[: MAX_FILENAME_LENGTH - len(suffix)].rstrip(". ") + suffix
    return name or FALLBACK_FILENAME
