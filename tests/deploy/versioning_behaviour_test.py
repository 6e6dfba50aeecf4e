"""Every workflow type the worker registers has its Worker Versioning behaviour in the one
table of `workflows.versioning`, reads it in its `@workflow.defn`, and the README lists it.
(`worker_versioning_test.py` proves a versioned worker reports them to the server.)"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from temporalio.common import VersioningBehavior
from temporalio.workflow import _Definition

from worker import registered_workflows
from workflows.versioning import VERSIONING

README = Path(__file__).resolve().parents[2] / "README.md"


def declared_in_defn(cls: type) -> str:
    """The type named in the class's `@workflow.defn(versioning_behavior=behaviour("..."))`."""
    [node] = [
        n
        for n in ast.parse(Path(inspect.getfile(cls)).read_text()).body
        if isinstance(n, ast.ClassDef) and n.name == cls.__name__
    ]
    assert isinstance(node, ast.ClassDef)
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "versioning_behavior":
                    call = keyword.value
                    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    assert call.func.id == "behaviour"
                    [name] = call.args
                    assert isinstance(name, ast.Constant)
                    return str(name.value)
    raise AssertionError(f"{cls.__name__} declares no versioning_behavior")


def test_every_registered_type_reads_its_own_entry_of_the_table() -> None:
    names = {_Definition.must_from_class(cls).name: cls for cls in registered_workflows()}
    assert set(names) == set(VERSIONING), "add the new type to workflows/versioning.py"
    assert {name: declared_in_defn(cls) for name, cls in names.items()} == {n: n for n in names}
    assert VersioningBehavior.UNSPECIFIED not in VERSIONING.values()


def test_an_unversioned_worker_reports_no_behaviour() -> None:
    """Outside a versioned worker's sandbox the definitions name none (a server refuses it)."""
    defns = [_Definition.must_from_class(cls) for cls in registered_workflows()]
    behaviours = {defn.versioning_behavior for defn in defns}
    assert behaviours == {VersioningBehavior.UNSPECIFIED}


def test_the_readme_lists_every_types_behaviour() -> None:
    text = README.read_text()
    words = {VersioningBehavior.PINNED: "pinned", VersioningBehavior.AUTO_UPGRADE: "auto-upgrade"}
    for name, behaviour in VERSIONING.items():
        assert f"| `{name}` | {words[behaviour]} |" in text, name
