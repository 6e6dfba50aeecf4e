"""A readable, deterministic diff of two configuration bundles.

Both sides are the bundle's files as text (filename -> content: settings.toml as TOML, every
concern as JSON), so a directory, an exported archive and a stored version compare alike.
The diff is structural: formatting and key order do not count; content does. Lists of objects
with a natural key (`id` or `name`) are matched by that key, so inserting a routing rule shows
one added rule, not every later rule changed; their order still counts (the first matching
rule wins) and is reported once when it changes.

Secrets: a literal secret (`value:...`, dev and local only) is never shown, only
`value:<literal>`; `env:NAME` and `file:/path` references are shown as they are.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from docflow.config.bundle import CONCERNS
from docflow.settings import SETTINGS_FILE

MAX_VALUE_CHARS = 120
# Fields that identify an object in a list, in order of preference.
KEY_FIELDS: tuple[str, ...] = ("id", "name")
LITERAL_MASK = "value:<literal>"
ENVIRONMENT_FIELD = "environment"
# Fields whose values differ between environments by design (see is_per_environment).
PER_ENVIRONMENT_KEYS = frozenset(
    {
        "allowed_hosts",
        "hub_id",
        "hub_name",
        "client_id",
        "repository_id",
        "env_profile",
        "task_queue",
        "s3_bucket",
        "data_dir",
    }
)

ChangeKind = Literal["added", "removed", "changed"]
FileStatus = Literal["added", "removed", "changed", "same"]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_NO_VALUE = object()


class Change(BaseModel):
    """One difference: where (e.g. `rules[name=nda].signature_template`), what kind, and both
    values as compact JSON text (None on the side that lacks it), truncated when long."""

    path: str
    kind: ChangeKind
    left: str | None = None
    right: str | None = None


class FileDiff(BaseModel):
    file: str
    status: FileStatus
    changes: list[Change] = Field(default_factory=list)


class BundleDiff(BaseModel):
    left_label: str
    right_label: str
    files: list[FileDiff]
    hidden: int = Field(
        default=0, description="Per-environment differences left out (hide_per_environment)."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def same(self) -> bool:
        return all(f.status == "same" for f in self.files)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def change_count(self) -> int:
        return sum(len(f.changes) if f.changes else 1 for f in self.files if f.status != "same")


def bundle_filenames() -> tuple[str, ...]:
    """settings.toml, then every concern's file in registry order."""
    return (SETTINGS_FILE, *(c.filename for c in CONCERNS))


def read_bundle_files(directory: Path) -> dict[str, str]:
    """The bundle files present in a directory (settings.toml and one file per concern)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    files: dict[str, str] = {}
    for name in bundle_filenames():
        path = directory / name
        if path.is_file():
            files[name] = path.read_bytes().decode()  # as is: no newline translation
    return files


def diff_bundles(
    left: Mapping[str, str],
    right: Mapping[str, str],
    *,
    left_label: str = "left",
    right_label: str = "right",
    include_environment: bool = False,
    hide_per_environment: bool = False,
) -> BundleDiff:
    """Compare two bundles file by file. The concerns' `environment` field is left out unless
    `include_environment` (it always differs between two environments).

    `hide_per_environment` also leaves out the differences every two environments are
    expected to have (`is_per_environment`: endpoints, allowed hosts, secret references,
    hub, tenant, queue and store names), to review what a promotion really changes; how many
    were left out is `hidden`."""
    known = bundle_filenames()
    names = [n for n in known if n in left or n in right]
    names += sorted((set(left) | set(right)) - set(known))
    files: list[FileDiff] = []
    hidden = 0
    for name in names:
        if name not in left:
            files.append(FileDiff(file=name, status="added"))
        elif name not in right:
            files.append(FileDiff(file=name, status="removed"))
        else:
            changes = _diff_file(name, left[name], right[name], include_environment)
            if hide_per_environment:
                kept = [c for c in changes if not is_per_environment(c)]
                hidden += len(changes) - len(kept)
                changes = kept
            files.append(
                FileDiff(file=name, status="changed" if changes else "same", changes=changes)
            )
    return BundleDiff(left_label=left_label, right_label=right_label, files=files, hidden=hidden)


def is_per_environment(change: Change) -> bool:
    """A difference two environments are expected to have: a URL-valued field, an entry of
    an `endpoints` map, allowed hosts, a secret reference on either side, or a field naming
    the environment's own hub, tenant client, repository, queue, bucket or data directory.
    A heuristic on names, for review only: validation decides what is allowed."""
    last = _last_key(change.path)
    parent = _last_key(change.path[: -len(last) - 1]) if last else ""
    if last.lower().endswith(("url", "endpoint")) or parent.lower().endswith("endpoints"):
        return True
    if last in PER_ENVIRONMENT_KEYS:
        return True
    return any(
        value is not None and value.startswith(('"env:', '"file:', '"value:'))
        for value in (change.left, change.right)
    )


def render_text(diff: BundleDiff) -> str:
    """Plain text, one line per change: `~` changed, `+` added, `-` removed, then a summary."""
    lines = [f"--- {diff.left_label}", f"+++ {diff.right_label}"]
    for file in diff.files:
        if file.status == "added":
            lines.append(f"+ {file.file}  (file only in {diff.right_label})")
        elif file.status == "removed":
            lines.append(f"- {file.file}  (file only in {diff.left_label})")
        for change in file.changes:
            if change.kind == "changed":
                lines.append(f"~ {file.file}  {change.path}: {change.left} -> {change.right}")
            elif change.kind == "added":
                lines.append(f"+ {file.file}  {change.path}: {change.right}")
            else:
                lines.append(f"- {file.file}  {change.path}: {change.left}")
    hidden = f", {diff.hidden} per-environment difference(s) hidden" if diff.hidden else ""
    if diff.same:
        lines.append(f"no differences ({len(diff.files)} files{hidden})")
    else:
        differing = [f for f in diff.files if f.status != "same"]
        added = sum(f.status == "added" for f in differing)
        removed = sum(f.status == "removed" for f in differing)
        lines.append(
            f"{diff.change_count} difference(s) in {len(differing)} of {len(diff.files)} files"
            f" ({added} file(s) added, {removed} removed{hidden})"
        )
    return "\n".join(lines) + "\n"


def mask_secrets(value: Any) -> Any:
    """The value with every literal secret (`value:...`) replaced by `value:<literal>`."""
    if isinstance(value, str):
        return LITERAL_MASK if value.startswith("value:") else value
    if isinstance(value, Mapping):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def render_value(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """Compact JSON of a value, secrets masked, keys sorted, at most `limit` characters."""
    text = json.dumps(
        mask_secrets(value),
        sort_keys=True,
        ensure_ascii=False,
        separators=(", ", ": "),
        default=str,
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ helpers
def _diff_file(name: str, left: str, right: str, include_environment: bool) -> list[Change]:
    if left == right:
        return []
    left_data, left_error = _parse(name, left)
    right_data, right_error = _parse(name, right)
    if left_error or right_error:
        return [
            Change(
                path="(file)",
                kind="changed",
                left=left_error or "(valid)",
                right=right_error or "(valid)",
            )
        ]
    if not include_environment and name != SETTINGS_FILE:
        for data in (left_data, right_data):
            if isinstance(data, dict):
                data.pop(ENVIRONMENT_FIELD, None)
    changes: list[Change] = []
    _compare(left_data, right_data, "", changes)
    return changes


def _parse(name: str, text: str) -> tuple[Any, str | None]:
    try:
        if name.endswith(".toml"):
            return tomllib.loads(text), None
        return json.loads(text), None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if name.endswith(".toml") else "JSON"
        return None, f"(not valid {kind}: {exc})"


def _compare(left: Any, right: Any, path: str, out: list[Change]) -> None:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in [*left, *(k for k in right if k not in left)]:
            child = _join(path, key)
            if key not in right:
                _one_side(left[key], child, "removed", out)
            elif key not in left:
                _one_side(right[key], child, "added", out)
            else:
                _compare(left[key], right[key], child, out)
        return
    if isinstance(left, list) and isinstance(right, list):
        if left == right:
            return
        key_field = _key_field(left, right)
        if key_field is not None:
            _compare_keyed(left, right, key_field, path, out)
            return
        if all(isinstance(v, dict) for v in (*left, *right)):
            for index in range(max(len(left), len(right))):
                child = f"{path}[{index}]"
                if index >= len(right):
                    out.append(Change(path=child, kind="removed", left=render_value(left[index])))
                elif index >= len(left):
                    out.append(Change(path=child, kind="added", right=render_value(right[index])))
                else:
                    _compare(left[index], right[index], child, out)
            return
    if left != right or type(left) is not type(right):
        out.append(
            Change(path=path, kind="changed", left=render_value(left), right=render_value(right))
        )


def _one_side(value: Any, path: str, kind: ChangeKind, out: list[Change]) -> None:
    """A value only one side has: a table field by field, anything else as one value."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _one_side(item, _join(path, key), kind, out)
        return
    text = render_value(value)
    out.append(
        Change(
            path=path,
            kind=kind,
            left=text if kind == "removed" else None,
            right=text if kind == "added" else None,
        )
    )


def _compare_keyed(
    left: list[dict[str, Any]], right: list[dict[str, Any]], key: str, path: str, out: list[Change]
) -> None:
    left_by = {item[key]: item for item in left}
    right_by = {item[key]: item for item in right}
    for item in left:
        child = f"{path}[{key}={item[key]}]"
        if item[key] not in right_by:
            out.append(Change(path=child, kind="removed", left=render_value(item)))
        else:
            _compare(item, right_by[item[key]], child, out)
    for item in right:
        if item[key] not in left_by:
            out.append(
                Change(path=f"{path}[{key}={item[key]}]", kind="added", right=render_value(item))
            )
    common_left = [item[key] for item in left if item[key] in right_by]
    common_right = [item[key] for item in right if item[key] in left_by]
    if common_left != common_right:
        out.append(
            Change(
                path=f"{path} (order)",
                kind="changed",
                left=render_value(common_left),
                right=render_value(common_right),
            )
        )


def _key_field(left: list[Any], right: list[Any]) -> str | None:
    """The field identifying every object of both lists (unique per list), if there is one."""
    items = [*left, *right]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in KEY_FIELDS:
        if all(isinstance(item.get(key), str | int) for item in items) and all(
            len({item[key] for item in side}) == len(side) for side in (left, right)
        ):
            return key
    return None


def _last_key(path: str) -> str:
    """The last plain key of a change's path (`a.b[0].c` -> `c`, `a[x=1]` -> ``)."""
    match = re.search(r"(?:^|\.)([A-Za-z_][A-Za-z0-9_-]*)$", path)
    return match.group(1) if match else ""


def _join(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"
