"""References to document bytes held in the document store (bytes never enter history)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from docflow.filetypes import MAX_FILENAME_LENGTH, safe_filename
from docflow.models.bounds import Caller, is_caller_input

MAX_KEY_LENGTH = 512
MAX_VERSION = 10_000
# Relative path segments of letters, digits, '.', '_' and '-'; no segment of only dots.
_KEY = re.compile(r"^(?!.*(?:^|/)\.+(?:/|$))[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


class DocumentRef(BaseModel):
    """A document version in the document store, identified by key and content hash."""

    key: Annotated[str, Caller(max_length=MAX_KEY_LENGTH)] = Field(
        description="Document-store key, e.g. 'sha256/9f/9f86d0…' (as returned by an upload)."
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes, hex.")
    size: int = Field(ge=0)
    filename: Annotated[str, Caller(max_length=MAX_FILENAME_LENGTH)]
    content_type: Annotated[str, Caller(max_length=100)] = "application/pdf"
    version: Annotated[int, Caller(le=MAX_VERSION)] = Field(
        default=1, ge=1, description="Business version of the document."
    )

    @field_validator("key")
    @classmethod
    def _plain_key(cls, value: str, info: ValidationInfo) -> str:
        if is_caller_input(info) and not _KEY.match(value):
            raise ValueError("a document key is a relative store path (as returned by an upload)")
        return value

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str, info: ValidationInfo) -> str:
        # It becomes the archived node's name: no directories, no control characters.
        if is_caller_input(info) and safe_filename(value) != value:
            raise ValueError(
                f"a plain file name without directories or control characters, e.g. "
                f"{safe_filename(value)!r}"
            )
        return value
