"""Secret references: configuration names where a secret lives, never the secret itself.

A reference is `env:NAME` (environment variable), `file:/path` (e.g. a mounted Kubernetes
or Docker secret) or, in the lenient profiles only (dev, local), `value:literal` for the
simulators' well-known credentials.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator


class SecretResolutionError(RuntimeError):
    """A secret reference could not be resolved (missing variable or file)."""


def _check_ref(ref: str) -> str:
    scheme, sep, rest = ref.partition(":")
    if not sep or scheme not in {"env", "file", "value"} or not rest:
        raise ValueError("secret reference must look like env:NAME, file:/path or value:literal")
    return ref


class _SecretMarker:
    """Marks a field as a secret reference, so configuration checks can find every one."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()
SecretRef = Annotated[str, AfterValidator(_check_ref), SECRET]


def resolve_secret(ref: str, *, allow_literal: bool = True) -> str:
    """Return the secret a reference points to."""
    scheme, _, rest = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise SecretResolutionError(f"environment variable {rest} is not set")
        return value
    if scheme == "file":
        try:
            return Path(rest).read_text().strip()
        except OSError as exc:
            raise SecretResolutionError(f"cannot read secret file {rest}: {exc}") from exc
    if scheme == "value":
        if not allow_literal:
            raise SecretResolutionError("literal secrets (value:...) are refused in this profile")
        return rest
    raise SecretResolutionError(f"unsupported secret reference scheme {scheme!r}")
