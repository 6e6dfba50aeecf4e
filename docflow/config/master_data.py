"""Schema: master data into Amplience (`master-data.json`) — per governed source (PIM, ERP)
and record type (product, reference): the content type schema and repository of its items,
the label and delivery key patterns, the fields a record must carry and the body fields they
fill, and whether an item is published once written.

`validate_record` is pure: the API refuses a record with it before anything starts, and the
workflow's validation activity applies it again with the bundle of the moment, so a record is
refused for the same reasons either way — every reason, never only the first — and an
invalid record is never written.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from docflow.config.concern import ConcernFile
from docflow.models.master_data import (
    NAME_PATTERN,
    RECORD_ID_PATTERN,
    ItemDraft,
    MasterDataRecord,
    RecordVerdict,
)

# Amplience: 1-150 characters of a-zA-Z0-9-_/, not starting or ending with '/'.
DELIVERY_KEY = re.compile(r"^(?!/)[A-Za-z0-9\-_/]{1,150}(?<!/)$")
MAX_LABEL = 200
KEY_NAMES = frozenset({"source", "type", "record_id"})
# Body fields docflow owns; a mapping may not write them.
RESERVED_BODY_FIELDS = frozenset({"_meta"})

FieldType = Literal["string", "number", "integer", "boolean", "list"]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    """One field of a record: its type and bounds, and the body field it fills."""

    type: FieldType
    required: bool = False
    body_field: str | None = Field(default=None, description="None: the field's own name.")
    max_length: int | None = Field(
        default=None, ge=1, description="Characters of a string, items of a list."
    )
    pattern: str | None = Field(default=None, description="A string (or each list item) matches.")
    enum: list[Scalar] | None = Field(default=None, min_length=1)
    min: float | None = Field(default=None, description="Numbers: the least allowed value.")
    max: float | None = None
    items: Literal["string", "number", "integer", "boolean"] | None = Field(
        default=None, description="Lists: the type of every item (None: any scalar)."
    )

    @model_validator(mode="after")
    def _checks(self) -> FieldSpec:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        if self.items is not None and self.type != "list":
            raise ValueError("items applies to lists only")
        return self


class RecordTypeMapping(_Strict):
    description: str = ""
    schema_uri: str = Field(
        min_length=1, description="The Amplience content type schema of the items."
    )
    repository_id: str = Field(min_length=1, description="The content repository items go to.")
    label: str = Field(
        min_length=1,
        description="Item label from fields, e.g. '{name} ({record_id})'; also source, type.",
    )
    delivery_key: str = Field(
        default="md/{source}/{type}/{record_id}",
        description="From source, type and record_id only: the key never changes for a "
        "record, so it finds the record's item when docflow's ledger does not know it.",
    )
    locale: str | None = None
    fields: dict[str, FieldSpec] = Field(min_length=1)
    unknown_fields: Literal["refuse", "ignore"] = Field(
        default="refuse", description="A field the mapping does not name: a reason, or dropped."
    )
    publish: bool = Field(default=False, description="Publish each written version.")

    @model_validator(mode="after")
    def _checks(self) -> RecordTypeMapping:
        key_names = _placeholders(self.delivery_key)
        if not key_names <= KEY_NAMES:
            unknown = ", ".join(sorted(key_names - KEY_NAMES))
            raise ValueError(
                f"delivery_key may use {{source}}, {{type}} and {{record_id}} only, not {unknown}"
            )
        if "record_id" not in key_names:
            raise ValueError("delivery_key must contain {record_id} (one key per record)")
        label_names = _placeholders(self.label) - KEY_NAMES
        if unknown := label_names - set(self.fields):
            raise ValueError(f"label names fields the mapping does not have: {sorted(unknown)}")
        targets: dict[str, str] = {}
        for name, spec in self.fields.items():
            target = spec.body_field or name
            if target in RESERVED_BODY_FIELDS:
                raise ValueError(f"fields.{name}: body field {target!r} is docflow's")
            if target in targets:
                raise ValueError(f"fields {targets[target]!r} and {name!r} both fill {target!r}")
            targets[target] = name
        return self


class MasterData(ConcernFile):
    sources: dict[str, dict[str, RecordTypeMapping]] = Field(
        description="Source (e.g. PIM) → record type (e.g. product) → its mapping."
    )
    max_record_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=512 * 1024,
        description="A record's fields as JSON: larger ones are refused (history stays small).",
    )

    @model_validator(mode="after")
    def _names(self) -> MasterData:
        for source, types in self.sources.items():
            for name in (source, *types):
                if not re.fullmatch(NAME_PATTERN, name):
                    raise ValueError(f"{name!r}: names are 1-64 characters of A-Za-z0-9_-")
        return self

    def mapping(self, source: str, record_type: str) -> RecordTypeMapping | None:
        return self.sources.get(source, {}).get(record_type)


def _placeholders(pattern: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name}


def validate_record(
    config: MasterData, record: MasterDataRecord, *, config_version: str = ""
) -> RecordVerdict:
    """The item a record becomes, or every reason it is refused (nothing is written then)."""
    reasons: list[str] = []
    if not re.fullmatch(RECORD_ID_PATTERN, record.record_id):
        reasons.append(
            f"record_id {record.record_id[:100]!r} must be 1-100 characters of A-Za-z0-9_-"
        )
    types = config.sources.get(record.source)
    if types is None:
        known = ", ".join(sorted(config.sources)) or "none"
        reasons.append(f"source {record.source!r} sends no master data here (known: {known})")
        return RecordVerdict(accepted=False, reasons=reasons, config_version=config_version)
    mapping = types.get(record.record_type)
    if mapping is None:
        known = ", ".join(sorted(types)) or "none"
        reasons.append(
            f"record type {record.record_type[:64]!r} is not mapped for {record.source} "
            f"(known: {known})"
        )
        return RecordVerdict(accepted=False, reasons=reasons, config_version=config_version)

    size = len(json.dumps(record.fields, default=str).encode())
    if size > config.max_record_bytes:
        reasons.append(f"the fields are {size} bytes as JSON, at most {config.max_record_bytes}")
    body: dict[str, Any] = {}
    for name, spec in mapping.fields.items():
        value = record.fields.get(name)
        if value is None:
            if spec.required:
                reasons.append(f"{name} is required")
            continue
        problems = _field_problems(name, spec, value)
        reasons.extend(problems)
        if not problems:
            body[spec.body_field or name] = value
    unknown = sorted(set(record.fields) - set(mapping.fields))
    if unknown and mapping.unknown_fields == "refuse":
        more = f" (and {len(unknown) - 10} more)" if unknown[10:] else ""
        shown = ", ".join(unknown[:10]) + more
        reasons.append(f"unknown fields: {shown}")

    names = {"source": record.source, "type": record.record_type, "record_id": record.record_id}
    label = _render(mapping.label, {**names, **record.fields})
    if not label.strip():
        reasons.append("the label is empty")
    elif len(label) > MAX_LABEL:
        reasons.append(f"the label is longer than {MAX_LABEL} characters")
    delivery_key = _render(mapping.delivery_key, names)
    if not DELIVERY_KEY.match(delivery_key):
        reasons.append(
            f"delivery key {delivery_key[:160]!r} is not 1-150 characters of A-Za-z0-9-_/"
        )
    if reasons:
        return RecordVerdict(accepted=False, reasons=reasons, config_version=config_version)
    meta = {"schema": mapping.schema_uri, "name": label, "deliveryKey": delivery_key}
    draft = ItemDraft(
        repository_id=mapping.repository_id,
        schema_uri=mapping.schema_uri,
        label=label,
        delivery_key=delivery_key,
        body={"_meta": meta, **body},
        locale=mapping.locale,
        publish=mapping.publish,
    )
    return RecordVerdict(accepted=True, draft=draft, config_version=config_version)


def _render(pattern: str, values: Mapping[str, Any]) -> str:
    out: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(pattern):
        out.append(literal)
        if name:
            value = values.get(name)
            out.append("" if value is None else str(value))
    return "".join(out)


def _field_problems(name: str, spec: FieldSpec, value: Any) -> list[str]:
    """Every way `value` breaks `spec` (a wrong type is one reason: the rest cannot apply)."""
    if spec.type == "list":
        if not isinstance(value, list):
            return [f"{name} must be a list"]
        problems: list[str] = []
        if spec.max_length is not None and len(value) > spec.max_length:
            problems.append(f"{name} has {len(value)} items, at most {spec.max_length} allowed")
        for index, item in enumerate(value):
            item_type = spec.items
            if item_type is None:
                if not isinstance(item, str | int | float | bool):
                    problems.append(f"{name}[{index}] must be a string, number or boolean")
                    continue
            elif wrong := _type_problem(f"{name}[{index}]", item_type, item):
                problems.append(wrong)
                continue
            problems.extend(_scalar_problems(f"{name}[{index}]", spec, item, lengths=False))
        return problems
    if wrong := _type_problem(name, spec.type, value):
        return [wrong]
    return _scalar_problems(name, spec, value, lengths=True)


def _type_problem(name: str, kind: str, value: Any) -> str | None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": is_number and math.isfinite(value),
    }[kind]
    return None if ok else f"{name} must be {'an' if kind == 'integer' else 'a'} {kind}"


def _scalar_problems(name: str, spec: FieldSpec, value: Any, *, lengths: bool) -> list[str]:
    problems: list[str] = []
    if isinstance(value, str):
        if lengths and spec.max_length is not None and len(value) > spec.max_length:
            problems.append(f"{name} is longer than {spec.max_length} characters")
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            problems.append(f"{name} does not match {spec.pattern}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            problems.append(f"{name} is {value}, less than {_number(spec.min)}")
        if spec.max is not None and value > spec.max:
            problems.append(f"{name} is {value}, more than {_number(spec.max)}")
    if spec.enum is not None and value not in spec.enum:
        allowed = ", ".join(str(v) for v in spec.enum[:20])
        problems.append(f"{name} is {str(value)[:50]!r}, not one of: {allowed}")
    return problems


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)
