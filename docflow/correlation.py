"""Correlation formats: the business key callers choose and the ids docflow derives from it.

The one definition of these formats; request models, API paths, the starter and the workflows
all use it, so a key accepted at the door always maps back to its process.
"""

from __future__ import annotations

import re

# A caller's business key, unanchored so other formats can embed it.
BUSINESS_KEY = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
# What `SigningRequest.business_key` and the API's path parameter accept.
BUSINESS_KEY_PATTERN = rf"^{BUSINESS_KEY}$"

# The Core Signature document's external id: "{business_key}#{signature cycle}".
_SIGNATURE_EXTERNAL_ID = re.compile(rf"^(?P<key>{BUSINESS_KEY})#(?P<cycle>[1-9]\d{{0,5}})$")


def signature_external_id(business_key: str, cycle: int) -> str:
    """The external id a signature request carries, so its callbacks find the process."""
    return f"{business_key}#{cycle}"


def business_key_from_external_id(external_id: str | None) -> str | None:
    """`"{business_key}#{cycle}"` (the Core Signature document's external id) → business key."""
    match = _SIGNATURE_EXTERNAL_ID.match(external_id or "")
    return match["key"] if match else None


def cycle_from_external_id(external_id: str | None) -> int | None:
    """`"{business_key}#{cycle}"` → the signature cycle it names."""
    match = _SIGNATURE_EXTERNAL_ID.match(external_id or "")
    return int(match["cycle"]) if match else None
