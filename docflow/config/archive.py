"""One environment's bundle as a single JSON document, for review, comparison and promotion.

The archive holds the bundle's files byte for byte (so importing it reproduces the bundle and
its content version), their versions, and every secret reference it names with whether it
resolved where it was exported. Secrets themselves never travel: a bundle with literal
secrets (`value:...`, dev and local only) is refused unless the exporter allows literals.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from docflow.config.bundle import load_bundle
from docflow.config.diff import LITERAL_MASK, read_bundle_files
from docflow.secrets import SecretResolutionError, resolve_secret

ARCHIVE_FORMAT = "docflow-config-bundle/1"
MAX_ARCHIVE_FILES = 64
MAX_ARCHIVE_BYTES = 2 * 1024 * 1024  # the files' text, UTF-8
# JSON escaping can grow the text; a larger archive file is refused before it is parsed.
MAX_ARCHIVE_FILE_BYTES = 3 * MAX_ARCHIVE_BYTES
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ArchiveError(ValueError):
    """An archive that cannot be written or read (too large, unsafe names, not an archive)."""


class LiteralSecretsError(ArchiveError):
    """The bundle holds literal secrets and literals were not allowed."""

    def __init__(self, places: list[str]) -> None:
        self.places = places
        listed = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
        super().__init__(
            f"the bundle holds {len(places)} literal secret(s) ({listed}); an archive carries "
            "secret references (env:, file:) only"
        )


class SecretReference(BaseModel):
    """A secret the bundle names: where, the reference (a literal shown as `value:<literal>`),
    and whether it resolved where the archive was made (None: not checked)."""

    file: str
    path: str
    reference: str
    resolves: bool | None = None


class BundleArchive(BaseModel):
    format: Literal["docflow-config-bundle/1"] = ARCHIVE_FORMAT
    profile: str
    version: str = Field(description="The bundle's content version (as `docflow config show`).")
    file_versions: dict[str, str]
    exported_at: datetime
    files: dict[str, str] = Field(description="Filename -> the file's text, unchanged.")
    secret_references: list[SecretReference] = Field(default_factory=list)

    @field_validator("files")
    @classmethod
    def _bounded(cls, files: dict[str, str]) -> dict[str, str]:
        if len(files) > MAX_ARCHIVE_FILES:
            raise ValueError(f"at most {MAX_ARCHIVE_FILES} files, not {len(files)}")
        unsafe = sorted(name for name in files if not _FILENAME.match(name))
        if unsafe:
            raise ValueError(f"file names must be plain names, not {', '.join(unsafe[:3])}")
        size = sum(len(text.encode()) for text in files.values())
        if size > MAX_ARCHIVE_BYTES:
            raise ValueError(f"at most {MAX_ARCHIVE_BYTES} bytes of files, not {size}")
        return files

    @model_validator(mode="after")
    def _references_only(self) -> Self:
        for ref in self.secret_references:
            if ref.reference.startswith("value:") and ref.reference != LITERAL_MASK:
                raise ValueError(f"{ref.file}: {ref.path}: a literal secret is never listed")
        return self

    @classmethod
    def from_directory(
        cls,
        directory: Path,
        *,
        allow_literals: bool = False,
        check_secrets: bool = True,
        now: datetime | None = None,
    ) -> Self:
        """Archive a bundle directory (`<config dir>/<profile>`), which must validate (its
        secrets are not required to resolve here: `resolves` records whether they did).

        Raises BundleError (invalid), LiteralSecretsError, ArchiveError (too large)."""
        bundle = load_bundle(directory.name, directory.parent, check_secrets=False)
        references: list[SecretReference] = []
        literals: list[str] = []
        for filename, path, ref in bundle.secret_references():
            if ref.startswith("value:"):
                literals.append(f"{filename}: {path}")
                references.append(SecretReference(file=filename, path=path, reference=LITERAL_MASK))
                continue
            resolves: bool | None = None
            if check_secrets:
                try:
                    resolve_secret(ref)
                    resolves = True
                except SecretResolutionError:
                    resolves = False
            references.append(
                SecretReference(file=filename, path=path, reference=ref, resolves=resolves)
            )
        if literals and not allow_literals:
            raise LiteralSecretsError(literals)
        try:
            return cls(
                profile=bundle.profile,
                version=bundle.version,
                file_versions=bundle.file_versions,
                exported_at=now or datetime.now(UTC),
                files=read_bundle_files(directory),
                secret_references=references,
            )
        except ValidationError as exc:
            raise ArchiveError(_first_error(exc)) from None

    @classmethod
    def read(cls, path: Path) -> Self:
        """Load an archive file (bounded in size before it is parsed)."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ArchiveError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        if size > MAX_ARCHIVE_FILE_BYTES:
            raise ArchiveError(
                f"{path}: {size} bytes, an archive is at most {MAX_ARCHIVE_FILE_BYTES}"
            )
        try:
            return cls.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise ArchiveError(f"{path}: not a bundle archive: {_first_error(exc)}") from None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def to_files(self) -> dict[str, str]:
        """Filename -> text, as `read_bundle_files` gives for a directory (for diffs)."""
        return dict(self.files)

    def write_to(self, directory: Path) -> None:
        """Write the files into a directory (created if needed), byte for byte."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (directory / name).write_bytes(text.encode())


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return str(exc)
    error = errors[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"
