"""Bounds on what callers send: lengths, counts, ranges and e-mail syntax.

They apply under the validation context `CALLER_INPUT` (the API and the starter validate
with it); decoding a workflow's history does not, so a bound tightened later never makes
an old run unreadable. The bounds appear in the OpenAPI schema like native ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Validation context of input from callers (the API): stricter than decoding workflow history.
CALLER_INPUT = "caller_input"

# RFC 5321 limits; the syntax is RFC 5322's dot-atom (no quoted local parts, no IP literals).
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(
    r"^(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)


def is_caller_input(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(CALLER_INPUT))


def email_problem(value: str) -> str | None:
    """Why `value` is not a deliverable e-mail address, or None."""
    if len(value) > MAX_EMAIL_LENGTH:
        return f"an e-mail address has at most {MAX_EMAIL_LENGTH} characters"
    match = _EMAIL.match(value)
    if match is None:
        return f"{value!r} is not a valid e-mail address"
    if len(match["local"]) > 64:
        return "the part of an e-mail address before '@' has at most 64 characters"
    return None


@dataclass(frozen=True)
class Caller:
    """`Annotated[T, Caller(...)]`: bounds checked on caller input only.

    `max_length` bounds a string's characters, a list's items or a mapping's entries;
    `ge`/`le` bound a number; `email` checks the address syntax.
    """

    max_length: int | None = None
    ge: int | None = None
    le: int | None = None
    email: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        kind = json_schema.get("type")
        if self.max_length is not None:
            key = {"array": "maxItems", "object": "maxProperties"}.get(kind or "", "maxLength")
            json_schema[key] = self.max_length
        if self.ge is not None:
            json_schema["minimum"] = self.ge
        if self.le is not None:
            json_schema["maximum"] = self.le
        if self.email:
            json_schema["format"] = "email"
        return json_schema

    def _check(self, value: Any, info: ValidationInfo) -> Any:
        if not is_caller_input(info):
            return value
        if self.max_length is not None and len(value) > self.max_length:
            unit = "characters" if isinstance(value, str) else "items"
            raise ValueError(f"at most {self.max_length} {unit} (got {len(value)})")
        if self.ge is not None and value < self.ge:
            raise ValueError(f"must be at least {self.ge}")
        if self.le is not None and value > self.le:
            raise ValueError(f"must be at most {self.le}")
        if self.email and (problem := email_problem(value)) is not None:
            raise ValueError(problem)
        return value


# Shared sizes, so every model names the same limits.
NAME = Caller(max_length=200)  # ids, names, types
TEXT = Caller(max_length=4000)  # messages and comments
PRINCIPAL = Caller(max_length=MAX_EMAIL_LENGTH)
EMAIL = Caller(email=True)
