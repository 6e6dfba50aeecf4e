"""Which runs stay on the build they started on, and which move to the new build.

One table for every workflow type the worker registers (README, "Changing the workflow
safely"). With Worker Versioning on (`temporal.build_id` set):

- PINNED: the run finishes on the build it started on, whatever becomes current meanwhile.
  For processes that wait days or weeks on people and vendors, whose waiting structure a
  rewrite changes: they never replay on code they did not start on. The old build's workers
  keep running until no pinned run is open on it (its version drains).
- AUTO_UPGRADE: the run's next workflow task goes to the current (or ramping) build. For
  short, self-contained steps that would otherwise keep an old build alive: they must stay
  replay-compatible across builds, so a change to them is patched (`workflow.patched`) and
  their corpus under tests/replay/<type>/ proves it.

Each `@workflow.defn` reads its entry: `versioning_behavior=behaviour("<type>")`.

Only a versioned worker may report a behaviour: a real server refuses the workflow task of an
unversioned worker that names one ("versioning behavior cannot be specified without
deployment options"). So `behaviour` answers UNSPECIFIED until `declare_behaviours()` is
called, which `worker.build_worker` does for a worker with a build id, and that worker's
sandbox passes this module through (the sandbox imports the workflow modules afresh for each
run, so their definitions read the declared behaviours). Every other sandbox (an unversioned
worker's, the tests', the replayer's) imports this module afresh: nothing declared.
"""

from __future__ import annotations

from temporalio.common import VersioningBehavior

PINNED = VersioningBehavior.PINNED
AUTO_UPGRADE = VersioningBehavior.AUTO_UPGRADE

VERSIONING: dict[str, VersioningBehavior] = {
    # Processes: wait on people and vendors for days to years.
    "SigningWorkflow": PINNED,  # approvals, signatures, reminders: days to weeks
    "BusinessObjectWorkflow": PINNED,  # one per business object, for its lifetime
    "CaseAssemblyWorkflow": PINNED,  # gathers sources, retries gaps for its retry window
    "ContentDistributionWorkflow": PINNED,  # one per content item, until idle_days quiet
    "MasterDataWorkflow": PINNED,  # one per master-data object, until idle_days quiet
    "EcmDocumentWorkflow": PINNED,  # one per ECM document, until idle_days quiet
    "EcmSubscriberWorkflow": PINNED,  # one per subscription: endpoint health for days
    "EcmAuditPollerWorkflow": PINNED,  # one per environment, ticking (continues as new)
    "EcmReviewTaskWorkflow": PINNED,  # people review: reminders, escalation, expiry
    "ConfigPromotionWorkflow": PINNED,  # a release approver decides: days
    # Steps: one self-contained unit of work (minutes; a dead letter or a vendor's result
    # may wait for days, but the structure is one call and one wait).
    "DeliveryWorkflow": AUTO_UPGRADE,  # one message to one target; redelivery on request
    "CaseSourceWorkflow": AUTO_UPGRADE,  # one case source gathered (gives up after ~1 h)
    "LifecycleActionWorkflow": AUTO_UPGRADE,  # one (event, rule): start, await the result
    "EcmContentUpdateWorkflow": AUTO_UPGRADE,  # one new version uploaded, requester told
    "PartnerInboxFiling": AUTO_UPGRADE,  # one uploaded document filed into an inbox
}


_declared = False


def declare_behaviours() -> None:
    """From now on, workflow definitions imported through this module name their behaviour."""
    global _declared
    _declared = True


def behaviour(workflow_type: str) -> VersioningBehavior:
    """The type's behaviour for a versioned worker's sandbox; UNSPECIFIED anywhere else."""
    return VERSIONING[workflow_type] if _declared else VersioningBehavior.UNSPECIFIED
