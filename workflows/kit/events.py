"""External events (callbacks, change events) for a process: deduplicated, buffered, bounded.

Rules:
- an event id is applied once: ids are remembered in a bounded FIFO (`seen_limit`), far more
  than any sender's retry window holds, so memory stays constant however many arrive;
- events for a subject the process does not know yet (a callback racing the create call)
  are buffered; events for a subject the process has moved past (an earlier cycle, another
  document) are dropped when it moves on (`keep_only`), never kept forever;
- the buffer is bounded (`buffer_limit`): past it the oldest event is dropped and counted;
- the whole inbox is one model (`InboxState`), handed over intact on continue-as-new.
Callbacks are hints: the process confirms a decisive claim with the vendor before acting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from docflow.models.process import InboxState

E = TypeVar("E", bound=BaseModel)

Offer = Literal["accepted", "duplicate", "stale"]


class EventInbox(Generic[E]):
    def __init__(
        self,
        state: InboxState[E],
        *,
        id_of: Callable[[E], str],
        subject_of: Callable[[E], str],
        seen_limit: int = 2000,
        buffer_limit: int = 200,
    ) -> None:
        self.state = state
        self._id_of = id_of
        self._subject_of = subject_of
        self._seen = set(state.seen)
        self._seen_limit = seen_limit
        self._buffer_limit = buffer_limit

    def offer(self, event: E, *, keep: bool = True) -> Offer:
        """Take an event in; says whether it was new, a duplicate, or for a closed subject.

        `keep=False` only deduplicates: the caller applies the event itself.
        """
        event_id = self._id_of(event)
        if event_id in self._seen:
            return "duplicate"
        self._remember(event_id)
        if self._subject_of(event) in self.state.stale_subjects:
            return "stale"
        if not keep:
            return "accepted"
        buffered = self.state.buffered
        buffered.append(event)
        if len(buffered) > self._buffer_limit:
            del buffered[0]
            self.state.dropped += 1
        return "accepted"

    def is_new(self, event: E) -> bool:
        """Would `offer` accept it (not a duplicate, not for a closed subject)? Changes nothing."""
        return (
            self._id_of(event) not in self._seen
            and self._subject_of(event) not in self.state.stale_subjects
        )

    def has(self, subject: str) -> bool:
        return any(self._subject_of(e) == subject for e in self.state.buffered)

    def take(self, subject: str) -> list[E]:
        """The buffered events of `subject`, in arrival order, removed from the buffer."""
        mine = [e for e in self.state.buffered if self._subject_of(e) == subject]
        self.state.buffered = [e for e in self.state.buffered if self._subject_of(e) != subject]
        return mine

    def close(self, subject: str) -> list[E]:
        """The process is done with `subject`: later events for it are stale; returns leftovers."""
        leftovers = self.take(subject)
        stale = self.state.stale_subjects
        if subject not in stale:
            stale.append(subject)
            del stale[: max(0, len(stale) - 50)]
        return leftovers

    def _remember(self, event_id: str) -> None:
        seen = self.state.seen
        seen.append(event_id)
        self._seen.add(event_id)
        if len(seen) > self._seen_limit:
            self._seen.discard(seen.pop(0))
