"""Request fingerprints: the same key with the same body is a retry, with another body a conflict.

Stripe's semantics for docflow's two kinds of keys. A start is keyed by the business key: its
fingerprint (one digest per top-level field) is kept in the run's memo. An Update is keyed by
the caller's `Idempotency-Key`: the Update id carries a digest of the body, so Temporal only
dedupes true retries, and the workflow (kit `RequestLedger`) refuses a reused key whose body
differs. Digests are of canonical JSON, so field order and whitespace never matter.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

DIGEST_LENGTH = 16
_UPDATE_ID = re.compile(rf"^(?P<key>.+)#(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})$", re.DOTALL)
# What the refusal of a reused key is called (the ApplicationError type the client maps).
IDEMPOTENCY_CONFLICT = "IdempotencyConflict"


def digest(value: Any) -> str:
    canonical = json.dumps(
        to_jsonable_python(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


def field_digests(model: BaseModel, prefix: str = "") -> dict[str, str]:
    """One digest per top-level field, so a conflict can say which fields differ."""
    dumped = model.model_dump(mode="json")
    return {f"{prefix}{name}": digest(value) for name, value in dumped.items()}


def differing(recorded: dict[str, str], presented: dict[str, str]) -> list[str]:
    """Fields whose digests differ (or that only one side has), sorted."""
    names = recorded.keys() | presented.keys()
    return sorted(name for name in names if recorded.get(name) != presented.get(name))


def update_id(request_id: str, payload: BaseModel) -> str:
    """The Update id for a caller's request id: `<request id>#<digest of the body>`."""
    return f"{request_id}#{digest(payload.model_dump(mode='json'))}"


def request_key(update_id: str | None) -> str | None:
    """The caller's request id inside an Update id made by `update_id` (None for others)."""
    match = _UPDATE_ID.match(update_id or "")
    return match["key"] if match else None
