"""What repairs a signing process in its current state: the exact CLI command and API call.

One place for both the workflow's current details (Web UI) and the API's status answer, so
what an operator is told to run is what the CLI and API accept.
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, Field

from docflow import search_attributes as sa

# Actions the single and batch repair operations know (the batch applies one to many).
REPAIR_ACTIONS = ("retry", "abandon", "redeliver", "cancel", "correct")


class RepairHint(BaseModel):
    action: str = Field(description="retry | abandon | redeliver | cancel | correct")
    what: str
    cli: str = Field(examples=["docflow repair SFDC-Q-1001"])
    api: str = Field(examples=['POST /v1/signing-processes/SFDC-Q-1001/repairs {"action":"retry"}'])


def signing_repairs(business_key: str, state: str, attention: str = "") -> list[RepairHint]:
    """The repairs the signing process accepts in `state` (with `attention`)."""
    path = f"/v1/signing-processes/{quote(business_key, safe='')}"
    hints: list[RepairHint] = []
    if state == "archive_exception":
        hints += [
            RepairHint(
                action="retry",
                what="retry the archive now (after fixing the cause in Extended ECM)",
                cli=f"docflow repair {business_key}",
                api=f'POST {path}/repairs {{"action":"retry"}}',
            ),
            RepairHint(
                action="abandon",
                what="give the archive up: the process ends failed and is reported",
                cli=f"docflow repair {business_key} --abandon",
                api=f'POST {path}/repairs {{"action":"abandon"}}',
            ),
        ]
    if state == "signature_exception":
        hints.append(
            RepairHint(
                action="correct",
                what="send again to corrected signers (or a new document version)",
                cli=f"docflow correct {business_key} --signer new.signer@example.com",
                api=f'POST {path}/corrections {{"signers":[{{"email":"…"}}]}}',
            )
        )
    if attention == sa.REPORT_DEAD_LETTERED:
        hints.append(
            RepairHint(
                action="redeliver",
                what="deliver the status report again (after fixing the source's endpoint)",
                cli=f"docflow redeliver {business_key}",
                api=f"POST {path}/redeliveries {{}}",
            )
        )
    if state in ("awaiting_approval", "changes_requested", "awaiting_signature") or (
        state == "signature_exception"
    ):
        hints.append(
            RepairHint(
                action="cancel",
                what="cancel the process (withdraws an open signature request)",
                cli=f'docflow cancel {business_key} --reason "…"',
                api=f'POST {path}/cancel {{"reason":"…"}}',
            )
        )
    return hints


def describe_repairs(hints: list[RepairHint]) -> str:
    """The hints as lines for the Web UI's current details."""
    return "\n".join(f"- {h.what}: `{h.cli}` · `{h.api}`" for h in hints)
