"""Every workflow type the worker registers declares its Worker Versioning behaviour, from the
one table in `workflows.versioning`, and the README lists the same table."""

from __future__ import annotations

from pathlib import Path

from temporalio.common import VersioningBehavior
from temporalio.workflow import _Definition

from worker import registered_workflows
from workflows.versioning import VERSIONING

README = Path(__file__).resolve().parents[2] / "README.md"


def declared() -> dict[str, VersioningBehavior]:
    definitions = [_Definition.must_from_class(cls) for cls in registered_workflows()]
    return {d.name or "": d.versioning_behavior for d in definitions}


def test_every_registered_type_declares_its_behaviour_from_the_table() -> None:
    behaviours = declared()
    assert set(behaviours) == set(VERSIONING), "add the new type to workflows/versioning.py"
    assert behaviours == VERSIONING
    assert VersioningBehavior.UNSPECIFIED not in behaviours.values()


def test_the_readme_lists_every_types_behaviour() -> None:
    text = README.read_text()
    words = {VersioningBehavior.PINNED: "pinned", VersioningBehavior.AUTO_UPGRADE: "auto-upgrade"}
    for name, behaviour in VERSIONING.items():
        assert f"| `{name}` | {words[behaviour]} |" in text, name
