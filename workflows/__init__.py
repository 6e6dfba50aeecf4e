"""docflow's processes: one workflow module per process, composed from the kit (`kit/`).

`WORKFLOWS` is the registry the worker runs; a process that fans out registers its children.
"""

from __future__ import annotations

from workflows.delivery import DeliveryWorkflow
from workflows.signing import SigningWorkflow

WORKFLOWS: dict[str, list[type]] = {
    "signing": [SigningWorkflow, DeliveryWorkflow],
}


def all_workflows() -> list[type]:
    seen: dict[str, type] = {}
    for classes in WORKFLOWS.values():
        for cls in classes:
            seen.setdefault(cls.__name__, cls)
    return list(seen.values())
