"""Device-time timers in memory: self-fix grace periods and repairs under verification.

Most messages carry no signal; the sink still has to ask "does this device have a
notice whose grace just ran out, or a repair being verified?". Kept here as dicts, that
costs a lookup; the database stays the truth and :meth:`Watches.reload` re-reads it
every ``watch_refresh_s`` wall seconds (another worker may have sent a notice or
resolved an order).

Threads: the pipeline thread reads and advances the timers; API threads add and drop
verification states when people resolve or reopen orders. Every dict access holds the
lock; a :class:`Verifying` state itself is advanced by the pipeline thread only (and
its ``normal_since`` is set under the lock by a Recovery, on the same thread).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edge.contract import WorkOrderStatus as S
from gateway.workorders.ids import aware, maybe_aware
from gateway.workorders.tables import SelfFixNoticeRow, WorkOrderRow

_T = TypeVar("_T")


@dataclass
class Verifying:
    """A resolved order whose repair the telemetry is verifying."""

    order_id: str
    fault: str
    kind: str
    #: first device time seen after the order was resolved
    since: datetime | None
    cycles: int
    normal_since: datetime | None = None
    last_ts: datetime | None = None


@dataclass
class _Timers:
    grace: dict[str, dict[str, datetime]] = field(default_factory=dict)
    verifying: dict[str, dict[str, Verifying]] = field(default_factory=dict)


class Watches:
    def __init__(self, sessions: sessionmaker[Session], refresh_s: float) -> None:
        self._sessions = sessions
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._timers = _Timers()
        self._loaded_at = float("-inf")

    def stale(self) -> bool:
        """True when the last reload is older than ``refresh_s`` (wall seconds)."""
        return time.monotonic() - self._loaded_at > self._refresh_s

    def reload(self) -> None:
        """Re-read pending notices and orders under verification (other workers' changes)."""
        timers = _Timers()
        with self._sessions() as session:
            for n in session.scalars(
                select(SelfFixNoticeRow).where(SelfFixNoticeRow.status == "pending")
            ):
                timers.grace.setdefault(n.device_id, {})[n.fault] = aware(n.grace_until)
            for o in session.scalars(select(WorkOrderRow).where(WorkOrderRow.status == S.RESOLVED)):
                since = maybe_aware(o.verify_since)
                timers.verifying.setdefault(o.device_id, {})[o.fault] = Verifying(
                    o.id,
                    o.fault,
                    o.kind,
                    since,
                    o.verify_cycles,
                    maybe_aware(o.evidence_normal_since),
                )
        with self._lock:
            # keep in-memory progress (last_ts) of states we already follow
            for device_id, states in timers.verifying.items():
                for fault, state in states.items():
                    known = self._timers.verifying.get(device_id, {}).get(fault)
                    if known is not None and known.order_id == state.order_id:
                        states[fault] = known
            self._timers = timers
            self._loaded_at = time.monotonic()

    def of(self, device_id: str) -> tuple[dict[str, datetime], list[Verifying]]:
        """A copy of the device's grace deadlines (fault -> until) and verification states."""
        with self._lock:
            return (
                dict(self._timers.grace.get(device_id, {})),
                list(self._timers.verifying.get(device_id, {}).values()),
            )

    def start_grace(self, device_id: str, fault: str, until: datetime) -> None:
        with self._lock:
            self._timers.grace.setdefault(device_id, {})[fault] = until

    def forget_grace(self, device_id: str, fault: str) -> None:
        with self._lock:
            _drop(self._timers.grace, device_id, fault)

    def start_verifying(self, device_id: str, state: Verifying) -> None:
        with self._lock:
            self._timers.verifying.setdefault(device_id, {})[state.fault] = state

    def forget_verifying(self, device_id: str, fault: str) -> None:
        with self._lock:
            _drop(self._timers.verifying, device_id, fault)

    def evidence_normal(self, device_id: str, fault: str, normal_since: datetime) -> None:
        """A Recovery: the verification clock (washers: cycle count) starts again from here."""
        with self._lock:
            state = self._timers.verifying.get(device_id, {}).get(fault)
            if state is not None:
                state.normal_since = normal_since
                state.cycles = 0


def _drop(timers: dict[str, dict[str, _T]], device_id: str, fault: str) -> None:
    faults = timers.get(device_id)
    if faults is not None:
        faults.pop(fault, None)
        if not faults:
            del timers[device_id]
