"""State of the ERP simulator: the kit's business system, a seeded transaction history, and
the business processes docflow starts (`simulators/erp/processes.py`).

Transactions are derived from (seed, case reference, position) alone, so seeding the same case
again gives the same ids, fields and statement PDFs (byte for byte: their SHA-256 is stable).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from simulators.erp.processes import PROCESS_KINDS, Process, ProcessFaults, ProcessStart
from simulators.kit.business_objects import (
    BusinessSystemConfig,
    BusinessSystemSim,
    RecordError,
    iso,
)
from simulators.kit.pdf import make_pdf
from simulators.kit.timers import Timers

MAX_TRANSACTIONS = 10_000
_KINDS = ("Invoice", "Credit memo", "Payment received", "Dunning fee", "Down payment")
_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ErpConfig(BusinessSystemConfig):
    ext_system_id: str = "SAP"
    object_types: list[str] = Field(default_factory=lambda: ["Customer", "Supplier", "Project"])
    # "whsec_" + base64("dev-erp-webhook-secret-1234"): SAP's webhook_secret in the registry.
    webhook_secret: str = "whsec_ZGV2LWVycC13ZWJob29rLXNlY3JldC0xMjM0"
    # "whsec_" + base64("dev-sap-events-secret-1234"): SAP's event_secret in the registry.
    events_secret: str = "whsec_ZGV2LXNhcC1ldmVudHMtc2VjcmV0LTEyMzQ="
    api_key: str = Field(default="dev-erp-key", description="Bearer key of /api/*.")
    currency: str = "EUR"
    default_limit: int = Field(default=50, ge=1)
    max_limit: int = Field(default=200, ge=1)
    transactions: dict[str, int] = Field(
        default_factory=dict, description="Initial history: case reference -> count."
    )
    process_duration_ms: int = Field(
        default=300, ge=0, description="How long a started business process runs."
    )
    process_events_url: str | None = Field(
        default=None,
        description="Where process.completed / process.failed go; None: to `events_url` "
        "(with the business-object events; both None: not sent).",
    )


@dataclass(frozen=True)
class Transaction:
    """One posted transaction of a case, with its statement PDF."""

    id: str
    case_reference: str
    position: int
    posted_at: datetime
    document_no: str
    amount: str
    currency: str
    description: str
    document: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "posted_at": self.posted_at.isoformat().replace("+00:00", "Z"),
            "document_no": self.document_no,
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "sha256": self.sha256,
            "size": len(self.document),
        }


def make_transaction(seed: int, case_reference: str, position: int, currency: str) -> Transaction:
    """The `position`-th (1-based) transaction of a case; the same arguments, the same bytes."""
    digest = hashlib.sha256(f"{seed}:{case_reference}:{position}".encode()).hexdigest()
    rng = random.Random(digest)
    kind = rng.choice(_KINDS)
    cents = rng.randint(1_000, 2_500_000)
    if kind in ("Credit memo", "Payment received"):
        cents = -cents
    amount = f"{cents / 100:.2f}"
    document_no = f"51{rng.randint(0, 99_999_999):08d}"
    posted_at = _EPOCH + timedelta(days=position - 1, minutes=rng.randint(0, 8 * 60))
    description = f"{kind} {document_no} ({case_reference})"
    pdf = make_pdf(
        f"Account statement {document_no}",
        [
            f"Case reference: {case_reference}",
            f"Document number: {document_no}",
            f"Posted: {posted_at:%Y-%m-%d %H:%M} UTC",
            f"Transaction: {kind}",
            f"Amount: {amount} {currency}",
            "",
            "Issued by the SAP S/4HANA simulator for docflow's development and tests.",
        ],
    )
    return Transaction(
        id=f"TX-{digest[:12].upper()}",
        case_reference=case_reference,
        position=position,
        posted_at=posted_at,
        document_no=document_no,
        amount=amount,
        currency=currency,
        description=description,
        document=pdf,
    )


def sap_id(bo_type: str) -> str:
    """SAP-style numbers: 10-digit customers (1...) and suppliers (3...), projects P-########."""
    digits = f"{secrets.randbelow(10**9):09d}"
    if bo_type == "Customer":
        return f"1{digits}"
    if bo_type == "Supplier":
        return f"3{digits}"
    if bo_type == "Project":
        return f"P-{digits[:8]}"
    return f"{bo_type[:4].upper()}-{digits}"


class ErpSim(BusinessSystemSim):
    """All state of the ERP simulator; reachable as `app.state.sim`."""

    config: ErpConfig

    def __init__(self, config: ErpConfig) -> None:
        self._timers = Timers()
        super().__init__(config)

    def reset(self) -> None:
        self._timers.cancel_all()
        super().reset()
        self.processes: dict[str, Process] = {}
        self.process_keys: dict[str, Process] = {}
        self.process_faults = ProcessFaults()
        self.fail_left = 0
        self.lose_left = 0
        self.started: Counter[str] = Counter()
        self.replays = 0
        self.process_events_url = self.config.process_events_url
        self.histories: dict[str, list[Transaction]] = {}
        self.by_id: dict[str, Transaction] = {}
        self.downloads: Counter[str] = Counter()
        self.listings = 0
        for case_reference, count in self.config.transactions.items():
            self.seed_transactions(case_reference, count)

    async def settle(self, timeout_s: float) -> bool:
        """Wait until every process has finished and its event was delivered."""
        return await self._timers.settle(self.events, timeout_s)

    async def aclose(self) -> None:
        self._timers.cancel_all()
        await super().aclose()

    def new_id(self, bo_type: str) -> str:
        return sap_id(bo_type)

    # ------------------------------------------------------------ business processes
    def start_process(self, start: ProcessStart, key: str) -> tuple[Process, bool]:
        """Start a process, or find the one this Idempotency-Key started: (process, is_new).
        The same key with another process kind or reference is a conflict (409)."""
        known = self.process_keys.get(key)
        if known is not None:
            if (known.process, known.reference) != (start.process, start.reference):
                raise RecordError(
                    409,
                    f"Idempotency-Key {key!r} already started {known.process} {known.id} "
                    f"for reference {known.reference!r}",
                )
            known.replays += 1
            self.replays += 1
            return known, False
        faults = self.process_faults
        fail_reason = None
        if self.fail_left > 0 and faults.fail_process in (None, start.process):
            self.fail_left -= 1
            fail_reason = faults.reason
        duration = (
            faults.duration_ms
            if faults.duration_ms is not None
            else self.config.process_duration_ms
        )
        process = Process.create(start, key, duration, fail_reason)
        self.processes[process.id] = process
        self.process_keys[key] = process
        self.started[process.process] += 1
        self._timers.later(duration, lambda: self._process_finished(process))
        return process, True

    def process(self, process_id: str) -> Process:
        found = self.processes.get(process_id)
        if found is None:
            raise RecordError(404, f"no process {process_id}")
        return found

    def find_processes(self, reference: str | None) -> list[Process]:
        return [p for p in self.processes.values() if reference in (None, p.reference)]

    def configure_processes(self, faults: ProcessFaults) -> ProcessFaults:
        self.process_faults = faults.model_copy()
        self.fail_left = faults.fail_next
        self.lose_left = faults.lose_answer_next
        return self.process_faults

    def lose_answer(self) -> bool:
        """Whether the answer to the new start just made is lost (a fault knob)."""
        if self.lose_left > 0:
            self.lose_left -= 1
            return True
        return False

    def _process_finished(self, process: Process) -> None:
        """The finish timer: the process is settled and, when events are on, announced."""
        process.settled = True
        url = self.process_events_url or self.events_url
        if not url:
            return
        event_type = f"process.{process.outcome}"
        now = datetime.now(UTC)
        body = json.dumps(
            {"type": event_type, "timestamp": iso(now), "data": process.event_data()}
        ).encode()
        process.event_id = f"msg_{uuid.uuid4().hex}"
        self.events.submit(
            url,
            body,
            event_id=process.event_id,
            event_type=event_type,
            headers=self._headers(process.event_id, body),
            meta={
                "process_id": process.id,
                "process": process.process,
                "reference": process.reference,
            },
        )

    def processes_summary(self) -> dict[str, Any]:
        """Counts for `/_control/processes`: starts per kind, replays, statuses, and the
        references started more than once (by different Idempotency-Keys)."""
        by_reference = Counter(p.reference for p in self.processes.values())
        return {
            "count": len(self.processes),
            "started": {kind: self.started[kind] for kind in PROCESS_KINDS},
            "replays": self.replays,
            "by_status": dict(Counter(p.status() for p in self.processes.values())),
            "references_started_twice": {r: n for r, n in by_reference.items() if n > 1},
            "faults": {
                **self.process_faults.model_dump(),
                "fail_left": self.fail_left,
                "lose_answer_left": self.lose_left,
            },
        }

    # ------------------------------------------------------------ transactions
    def seed_transactions(self, case_reference: str, count: int) -> list[Transaction]:
        """The case's history becomes `count` transactions (the first ones are kept as they
        were, so seeding more adds to the end)."""
        if not 0 <= count <= MAX_TRANSACTIONS:
            raise RecordError(422, f"count must be 0..{MAX_TRANSACTIONS}")
        for old in self.histories.get(case_reference, []):
            self.by_id.pop(old.id, None)
        history = [
            make_transaction(self.config.seed, case_reference, n, self.config.currency)
            for n in range(1, count + 1)
        ]
        self.histories[case_reference] = history
        self.by_id.update((t.id, t) for t in history)
        return history

    def page(
        self, case_reference: str, cursor: str | None, limit: int | None
    ) -> tuple[list[Transaction], str | None]:
        """One page of a case's history, oldest first, and the cursor of the next (or None)."""
        size = min(limit or self.config.default_limit, self.config.max_limit)
        offset = _decode_cursor(cursor, case_reference) if cursor else 0
        history = self.histories.get(case_reference, [])
        items = history[offset : offset + size]
        end = offset + len(items)
        self.listings += 1
        return items, _encode_cursor(case_reference, end) if end < len(history) else None

    def statement(self, transaction_id: str) -> Transaction:
        found = self.by_id.get(transaction_id)
        if found is None:
            raise RecordError(404, f"no transaction {transaction_id}")
        self.downloads[transaction_id] += 1
        return found


def _encode_cursor(case_reference: str, offset: int) -> str:
    raw = f"{case_reference}\n{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, case_reference: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        reference, offset = raw.rsplit("\n", 1)
        value = int(offset)
    except ValueError:  # also binascii.Error and UnicodeDecodeError
        raise RecordError(400, "invalid cursor") from None
    if reference != case_reference or value < 0:
        raise RecordError(400, "the cursor belongs to another listing")
    return value
