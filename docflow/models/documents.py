"""References to document bytes held in the document store (bytes never enter history)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DocumentRef(BaseModel):
    """A document version in the document store, identified by key and content hash."""

    key: str = Field(description="Document-store key, e.g. 'contracts/Q-1001/v1/contract.pdf'.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes, hex.")
    size: int = Field(ge=0)
    filename: str
    content_type: str = "application/pdf"
    version: int = Field(default=1, ge=1, description="Business version of the document.")
