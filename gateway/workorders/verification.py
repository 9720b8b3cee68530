"""Fix verification: after ``resolved``, the telemetry decides whether the repair took.

The detectors keep watching a repaired unit. Their :class:`~detectors.api.Recovery`
says the fault's evidence is back to normal (a detector reports a fault once, then
stays quiet until it recovers); from then on ``verify_days`` of device time (washers:
``verify_cycles`` cycles, told apart by gaps in their telemetry) without a new Finding
marks the order ``verified``. Evidence that never returns to normal within
``recovery_timeout`` (washers: ``recovery_timeout_cycles``) reopens it: the repair did
not take. (The same fault returning as a new Finding reopens it too; that path is
:mod:`gateway.workorders.opening`'s.)

Progress (``verify_since``, ``verify_cycles``) is saved on the order, so a restarted
gateway carries on; :mod:`gateway.workorders.watches` holds it in memory meanwhile.
Both final moves re-check, on the locked row, that the order is still ``resolved``: a
person may have closed or reopened it from an API thread in the meantime.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from detectors.api import Recovery
from edge.contract import Kind
from edge.contract import WorkOrderStatus as S
from gateway.workorders.context import Context
from gateway.workorders.events import REOPENED, VERIFIED
from gateway.workorders.ids import aware
from gateway.workorders.journal import TELEMETRY, Journal, OrderChange
from gateway.workorders.opening import reopen
from gateway.workorders.tables import ACTIVE_STATUSES, WorkOrderRow
from gateway.workorders.transitions import Transitions
from gateway.workorders.views import order_view
from gateway.workorders.watches import Verifying, Watches


class Verification:
    def __init__(
        self, ctx: Context, journal: Journal, watches: Watches, transitions: Transitions
    ) -> None:
        self._ctx = ctx
        self._journal = journal
        self._watches = watches
        self._transitions = transitions

    def recovered(self, recovery: Recovery) -> None:
        """The evidence is back to normal: note it on the active order, restart the clock."""
        with self._ctx.sessions.begin() as session:
            session.execute(
                update(WorkOrderRow)
                .where(
                    WorkOrderRow.device_id == recovery.device_id,
                    WorkOrderRow.fault == str(recovery.fault),
                    WorkOrderRow.status.in_(ACTIVE_STATUSES),
                )
                .values(evidence_normal_since=recovery.normal_since)
                .execution_options(synchronize_session=False)
            )
        self._watches.evidence_normal(
            recovery.device_id, str(recovery.fault), recovery.normal_since
        )

    def advance(self, device_id: str, state: Verifying, ts: datetime) -> None:
        """One message of the device at device time ``ts``: count time or cycles, decide."""
        config = self._ctx.config
        if state.since is None:
            state.since, state.last_ts = ts, ts
            state.cycles = 1 if state.kind == Kind.WASHER else 0
            self._save(state)
            return
        if ts < state.since:
            return
        washer = state.kind == Kind.WASHER
        if washer:
            if state.last_ts is not None and ts - state.last_ts > config.washer_cycle_gap:
                state.cycles += 1
                self._save(state)
            state.last_ts = ts
        normal = state.normal_since is not None or not config.require_recovery
        if not normal:
            if washer:
                timed_out = state.cycles > config.recovery_timeout_cycles
            else:
                timed_out = ts - state.since >= config.recovery_timeout
            if timed_out:
                self._reopen_persisting(device_id, state, ts)
            return
        if washer:
            done = state.cycles > config.verify_cycles  # N full cycles behind us
        else:
            start = max(state.since, state.normal_since or state.since)
            done = ts - start >= timedelta(days=config.verify_days)
        if done:
            self._verify(device_id, state, ts)

    def _reopen_persisting(self, device_id: str, state: Verifying, ts: datetime) -> None:
        """The evidence never returned to normal after the repair: the fix did not take."""
        config = self._ctx.config
        with self._ctx.sessions.begin() as session:
            row = session.get(WorkOrderRow, state.order_id, with_for_update=True)
            if row is None or row.status != S.RESOLVED:
                view = None
            else:
                limit = (
                    f"{config.recovery_timeout_cycles} cycles"
                    if state.kind == Kind.WASHER
                    else f"{config.recovery_timeout.total_seconds() / 86400:g} days"
                )
                now = self._ctx.clock()
                row.updated_wall_at = now
                reopen(
                    self._journal,
                    self._ctx.sla,
                    session,
                    row,
                    now=now,
                    actor=TELEMETRY,
                    device_at=ts,
                    reason=f"the evidence did not return to normal within {limit} of the repair",
                )
                view = order_view(row)
        self._watches.forget_verifying(device_id, state.fault)
        if view is not None:
            self._journal.count(OrderChange("reopened", state.order_id))
            self._journal.emit(REOPENED, view)
            self._transitions.auto_assign(state.order_id)

    def _save(self, state: Verifying) -> None:
        with self._ctx.sessions.begin() as session:
            session.execute(
                update(WorkOrderRow)
                .where(WorkOrderRow.id == state.order_id, WorkOrderRow.status == S.RESOLVED)
                .values(verify_since=state.since, verify_cycles=state.cycles)
            )

    def _verify(self, device_id: str, state: Verifying, ts: datetime) -> None:
        with self._ctx.sessions.begin() as session:
            row = session.get(WorkOrderRow, state.order_id, with_for_update=True)
            if row is not None and row.status == S.RESOLVED:
                row.status = S.VERIFIED
                row.verified_at = ts
                row.verify_cycles = state.cycles
                row.updated_wall_at = self._ctx.clock()
                self._journal.audit(
                    session,
                    row,
                    "verified",
                    S.RESOLVED,
                    TELEMETRY,
                    device_at=ts,
                    detail={
                        "normal_since": aware(state.since or ts).isoformat(),
                        "cycles": state.cycles,
                    },
                )
                self._journal.webhook(session, row, "work_order.status_changed")
                view = order_view(row)
            else:
                view = None
        self._watches.forget_verifying(device_id, state.fault)
        if view is not None:
            self._journal.count(OrderChange("verified", state.order_id))
            self._journal.emit(VERIFIED, view)
