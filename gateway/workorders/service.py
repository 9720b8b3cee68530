"""The work-order service: findings in, one order per (device, fault) out, through its life.

It is the pipeline's signal sink (``handle(device, ts, signals)``, called for every
accepted telemetry/event message, signals usually empty) so it can follow DEVICE
time, which every telemetry-driven decision uses:

- a :class:`~detectors.api.Finding` opens the single active order for
  ``(device_id, fault)`` or updates it (occurrences, latest evidence, severity may
  rise); the database's partial unique index makes that safe across processes: an
  insert that loses the race updates the winner's row instead;
- faults the customer can fix safely (contract ``CUSTOMER_SELF_FIX``) first get a
  :class:`~edge.contract.Notice`; an order opens only if no
  :class:`~detectors.api.Recovery` arrives within the grace period (device time);
- after ``resolved``, the detectors keep watching. Their
  :class:`~detectors.api.Recovery` says the fault's evidence is back to normal (a
  detector reports a fault once, then stays quiet until it recovers); from then on
  ``verify_days`` of device time (washers: ``verify_cycles`` cycles, told apart by gaps
  in their telemetry) without a new Finding marks the order ``verified``. The same
  fault returning (a new Finding) reopens it with the new evidence; evidence that never
  returns to normal within ``recovery_timeout`` (washers: ``recovery_timeout_cycles``)
  reopens it too: the repair did not take;
- a technician's root cause (or ``false_alarm``) goes back to the detectors through
  ``learn_from_outcome``.

People's moves (assign, accept, schedule, resolve...) come through
:meth:`WorkOrderService.transition`; every change, by people or telemetry, is kept in
the audit trail (actor + wall time) and queued as a webhook event in the same
transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from detectors.api import Finding, FleetDetector, Outcome, Recovery, Signal
from edge.contract import (
    CUSTOMER_SELF_FIX,
    FAULTS_BY_KIND,
    Evidence,
    Fault,
    Kind,
    Notice,
    WarrantyStatus,
)
from edge.contract import WorkOrderStatus as S
from gateway.device_table import Device
from gateway.workorders.catalogue import PartsCatalogue
from gateway.workorders.dispatch import Candidate, choose_technician
from gateway.workorders.ids import aware, maybe_aware, new_id, utcnow
from gateway.workorders.keys import ADMIN, Role, Scope
from gateway.workorders.lifecycle import IllegalTransition, check_transition
from gateway.workorders.notices import NoticePublisher
from gateway.workorders.sla import SLA_STOPPED, SlaPolicy, higher_severity
from gateway.workorders.tables import (
    ACTIVE_STATUSES,
    AuditRow,
    ProviderRow,
    SelfFixNoticeRow,
    TechnicianRow,
    WorkOrderRow,
)
from gateway.workorders.views import iso, order_view
from gateway.workorders.webhooks import enqueue_event

log = logging.getLogger(__name__)

DETECTORS = "detectors"
TELEMETRY = "telemetry"
DISPATCH = "dispatch"
#: Statuses counted as a technician's load.
IN_HAND = (S.ASSIGNED, S.ACCEPTED, S.SCHEDULED, S.ON_SITE)


class DeviceRef(Protocol):
    """What the sink needs of the pipeline's device info: just its id."""

    @property
    def device_id(self) -> str: ...


class OrderNotFound(LookupError):
    """No such order, or not one the caller may see (the API answers 404 either way)."""


class InvalidRequest(ValueError):
    """A transition with missing or wrong details (e.g. an unknown root cause): HTTP 422."""


@dataclass(frozen=True)
class ServiceConfig:
    #: Device time a customer has to act on a self-fix notice before an order opens.
    self_fix_grace: timedelta = timedelta(days=3)
    #: A fault returning this soon (device time) after a self-fix "worked" skips the notice.
    self_fix_cooldown: timedelta = timedelta(days=14)
    #: Severities too urgent to wait for the customer.
    self_fix_skip: frozenset[str] = frozenset({"critical"})
    #: Normal behaviour needed after ``resolved`` (device time; washers count cycles).
    verify_days: float = 7.0
    verify_cycles: int = 8
    #: Verification needs the detectors' Recovery (evidence back to normal) after the repair;
    #: without one within this much device time (washers: cycles) the order reopens.
    require_recovery: bool = True
    recovery_timeout: timedelta = timedelta(days=4)
    recovery_timeout_cycles: int = 6
    #: A washer telemetry gap longer than this starts a new cycle.
    washer_cycle_gap: timedelta = timedelta(minutes=20)
    auto_assign: bool = True
    #: How often (wall seconds) the in-memory watch list is re-read (other workers' changes).
    watch_refresh_s: float = 5.0


@dataclass
class _Verifying:
    order_id: str
    fault: str
    kind: str
    #: first device time seen after the order was resolved
    since: datetime | None
    cycles: int
    normal_since: datetime | None = None
    last_ts: datetime | None = None


@dataclass
class _Watches:
    """Device-time timers, kept in memory so a message with no signals costs a dict lookup."""

    grace: dict[str, dict[str, datetime]] = field(default_factory=dict)
    verifying: dict[str, dict[str, _Verifying]] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderChange:
    """What a finding did: ``opened``, ``updated``, ``reopened``, ``noticed`` or ``ignored``."""

    action: str
    order_id: str | None = None
    notice_id: int | None = None


class WorkOrderService:
    def __init__(
        self,
        sessions: sessionmaker[Session] | Engine,
        *,
        detector: FleetDetector | None = None,
        publish_notice: NoticePublisher | None = None,
        catalogue: PartsCatalogue | None = None,
        sla: SlaPolicy | None = None,
        config: ServiceConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if isinstance(sessions, Engine):
            sessions = sessionmaker(sessions, expire_on_commit=False)
        self.sessions = sessions
        self.detector = detector
        self.publish_notice = publish_notice
        self.catalogue = catalogue or PartsCatalogue.load()
        self.sla = sla or SlaPolicy()
        self.config = config or ServiceConfig()
        self.clock = clock
        self._lock = threading.RLock()
        self._watches = _Watches()
        self._watches_loaded_at = float("-inf")
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        #: Service quality (gateway.quality): called by ``_audit`` inside the change's own
        #: transaction (history hash chain, quotes, progress notices); may raise to refuse it.
        self.audit_hooks: list[Callable[..., None]] = []
        #: Service quality: brand -> per-candidate dispatch bonus (provider scorecards).
        self.dispatch_bonus: Callable[[str | None], Callable[[Candidate], float] | None] | None = (
            None
        )
        self.counts: dict[str, int] = {}
        self.reload_watches()

    # ------------------------------------------------------------------ the sink

    def handle(self, device: DeviceRef, ts: datetime, signals: Sequence[Signal]) -> None:
        """Pipeline hook: every accepted message of ``device`` at device time ``ts``."""
        for signal in signals:
            if isinstance(signal, Finding):
                self.on_finding(signal)
            elif isinstance(signal, Recovery):
                self.on_recovery(signal)
        self.tick(device.device_id, ts)

    def tick(self, device_id: str, ts: datetime) -> None:
        """Advance the device's clock: expire grace periods, count verification time."""
        if time.monotonic() - self._watches_loaded_at > self.config.watch_refresh_s:
            self.reload_watches()
        with self._lock:
            graces = dict(self._watches.grace.get(device_id, {}))
            verifying = list(self._watches.verifying.get(device_id, {}).values())
        for fault, until in graces.items():
            if ts >= until:
                self._escalate_notice(device_id, fault, ts)
        for state in verifying:
            self._advance_verification(device_id, state, ts)

    def on_finding(self, finding: Finding) -> OrderChange:
        kind, fault = Kind(finding.kind), Fault(finding.fault)
        if (kind, fault) in CUSTOMER_SELF_FIX and finding.severity not in self.config.self_fix_skip:
            change = self._self_fix_first(finding)
            if change is not None:
                return self._count(change)
        return self._count(self.open_or_update(finding))

    def on_recovery(self, recovery: Recovery) -> None:
        """Telemetry is normal again: a self-fix notice worked, or a repair is taking."""
        self._order_recovered(recovery)
        with self.sessions.begin() as session:
            row = session.scalars(
                select(SelfFixNoticeRow).where(
                    SelfFixNoticeRow.device_id == recovery.device_id,
                    SelfFixNoticeRow.fault == recovery.fault,
                    SelfFixNoticeRow.status == "pending",
                )
            ).first()
            if row is None:
                return
            row.status = "recovered"
            row.closed_at = recovery.observed_at
        self._forget_grace(recovery.device_id, recovery.fault)
        self._count(OrderChange("self_fixed", notice_id=row.id))
        self._emit("self_fixed", {"device_id": recovery.device_id, "fault": recovery.fault})

    def _order_recovered(self, recovery: Recovery) -> None:
        with self.sessions.begin() as session:
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
        with self._lock:
            state = self._watches.verifying.get(recovery.device_id, {}).get(str(recovery.fault))
            if state is not None:
                state.normal_since = recovery.normal_since
                state.cycles = 0

    # ------------------------------------------------------------------ open / update

    def open_or_update(self, finding: Finding, *, opened_at: datetime | None = None) -> OrderChange:
        """The single active order for the finding's (device, fault): update it or insert it.

        Race-safe: the UPDATE runs first (it takes the write lock on SQLite, the row lock on
        PostgreSQL); if nothing is active the INSERT may still lose to another worker, whose
        row the partial unique index protects: we then go round again and update it.
        """
        for _ in range(5):
            change = self._update_active(finding)
            if change is not None:
                return change
            try:
                return self._insert(finding, opened_at or finding.observed_at)
            except IntegrityError:
                self._count(OrderChange("insert_race_lost"))
                continue
        raise RuntimeError(f"could not open or update order for {finding.device_id}")

    def _update_active(self, finding: Finding) -> OrderChange | None:
        evidence = [e.model_dump(mode="json") for e in finding.evidence]
        alternatives = [a.model_dump(mode="json") for a in finding.alternatives]
        with self.sessions.begin() as session:
            result = session.execute(
                update(WorkOrderRow)
                .where(
                    WorkOrderRow.device_id == finding.device_id,
                    WorkOrderRow.fault == str(finding.fault),
                    WorkOrderRow.status.in_(ACTIVE_STATUSES),
                )
                .values(
                    occurrences=WorkOrderRow.occurrences + 1,
                    evidence_normal_since=None,
                    last_seen_at=func.coalesce(finding.observed_at, WorkOrderRow.last_seen_at),
                    updated_wall_at=self.clock(),
                )
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            row = session.scalars(
                select(WorkOrderRow).where(
                    WorkOrderRow.device_id == finding.device_id,
                    WorkOrderRow.fault == str(finding.fault),
                    WorkOrderRow.status.in_(ACTIVE_STATUSES),
                )
            ).one()
            since = maybe_aware(row.verify_since)
            if row.status == S.RESOLVED and since is not None and finding.observed_at < since:
                return OrderChange("ignored", row.id)  # late data from before the repair
            if evidence:
                row.evidence = evidence
            if alternatives:
                row.alternatives = alternatives
            row.confidence = float(finding.confidence)
            if finding.predicted_failure_at is not None:
                row.predicted_failure_at = finding.predicted_failure_at
            old_severity = row.severity
            row.severity = higher_severity(row.severity, str(finding.severity))
            if row.severity != old_severity:
                row.due_wall_at = min(
                    aware(row.due_wall_at),
                    self.sla.due(
                        aware(row.created_wall_at),
                        row.severity,
                        maybe_aware(row.predicted_failure_at),
                    ),
                )
            if row.status == S.RESOLVED:
                self._reopen(session, row, finding)
                action = "reopened"
            else:
                action = "updated"
                if row.severity != old_severity:
                    self._audit(
                        session,
                        row,
                        "severity_raised",
                        row.status,
                        DETECTORS,
                        device_at=finding.observed_at,
                        detail={"from": old_severity, "to": row.severity},
                    )
                    self._webhook(session, row, "work_order.updated")
            order_id = row.id
            view = order_view(row)
        if action == "reopened":
            self._forget_verification(finding.device_id, str(finding.fault))
            self._emit("reopened", view)
            self._auto_assign(order_id)
        return OrderChange(action, order_id)

    def _reopen(self, session: Session, row: WorkOrderRow, finding: Finding) -> None:
        previous = row.status
        row.status = S.OPEN
        row.reopened += 1
        row.verify_since = None
        row.verify_cycles = 0
        row.technician_id = row.technician_id  # keep: the same technician knows the unit
        row.sla_breached_wall_at = None
        now = self.clock()
        row.created_wall_at = now
        row.due_wall_at = self.sla.due(now, row.severity, maybe_aware(row.predicted_failure_at))
        self._audit(
            session,
            row,
            "reopened",
            previous,
            DETECTORS,
            device_at=finding.observed_at,
            detail={"reason": "the fault returned after the repair", "evidence": row.evidence},
        )
        self._webhook(session, row, "work_order.reopened")

    def _insert(self, finding: Finding, opened_at: datetime) -> OrderChange:
        device = self._device(finding.device_id)
        kind = str(finding.kind)
        now = self.clock()
        row = WorkOrderRow(
            id=new_id("wo"),
            device_id=finding.device_id,
            kind=kind,
            fault=str(finding.fault),
            confidence=float(finding.confidence),
            severity=str(finding.severity),
            status=S.OPEN,
            opened_at=opened_at,
            first_seen_at=min(opened_at, finding.observed_at),
            last_seen_at=finding.observed_at,
            predicted_failure_at=finding.predicted_failure_at,
            evidence=[e.model_dump(mode="json") for e in finding.evidence],
            alternatives=[a.model_dump(mode="json") for a in finding.alternatives],
            recommended_parts=self.catalogue.parts_for(
                kind,
                str(finding.fault),
                model=device.get("model"),
                refrigerant=device.get("refrigerant"),
            ),
            warranty=warranty_status(device.get("warranty_until"), opened_at),
            brand=device.get("brand"),
            model=device.get("model"),
            region=device.get("region"),
            occurrences=1,
            reopened=0,
            parts_used=[],
            verify_cycles=0,
            created_wall_at=now,
            updated_wall_at=now,
            due_wall_at=self.sla.due(now, str(finding.severity), finding.predicted_failure_at),
        )
        with self.sessions.begin() as session:
            session.add(row)
            session.flush()  # the unique index speaks here
            self._audit(session, row, "opened", None, DETECTORS, device_at=opened_at)
            self._webhook(session, row, "work_order.opened")
            view = order_view(row)
        self._emit("opened", view)
        if self.config.auto_assign:
            self._auto_assign(row.id)
        return OrderChange("opened", row.id)

    def _device(self, device_id: str) -> dict[str, Any]:
        with self.sessions() as session:
            device = session.get(Device, device_id)
            if device is None:
                return {}
            return {
                "brand": device.brand,
                "model": device.model,
                "region": device.region,
                "refrigerant": device.refrigerant,
                "warranty_until": device.warranty_until,
            }

    # ------------------------------------------------------------------ self-fix first

    def _self_fix_first(self, finding: Finding) -> OrderChange | None:
        """Notice first; None means "open or update an order now" (the caller does)."""
        device_id, fault = finding.device_id, str(finding.fault)
        payload = _finding_json(finding)
        with self.sessions.begin() as session:
            active = session.scalar(
                select(WorkOrderRow.id).where(
                    WorkOrderRow.device_id == device_id,
                    WorkOrderRow.fault == fault,
                    WorkOrderRow.status.in_(ACTIVE_STATUSES),
                )
            )
            if active is not None:
                return None
            pending = session.scalars(
                select(SelfFixNoticeRow).where(
                    SelfFixNoticeRow.device_id == device_id,
                    SelfFixNoticeRow.fault == fault,
                    SelfFixNoticeRow.status == "pending",
                )
            ).first()
            if pending is not None:
                if finding.observed_at >= aware(pending.grace_until):
                    return None  # grace over and still faulty: the caller opens the order
                pending.finding = payload
                return OrderChange("noticed", notice_id=pending.id)
            recent = session.scalar(
                select(SelfFixNoticeRow.id).where(
                    SelfFixNoticeRow.device_id == device_id,
                    SelfFixNoticeRow.fault == fault,
                    SelfFixNoticeRow.status == "recovered",
                    SelfFixNoticeRow.closed_at
                    >= finding.observed_at - self.config.self_fix_cooldown,
                )
            )
            if recent is not None:
                return None  # the customer's fix did not hold: send a technician
        action, text = CUSTOMER_SELF_FIX[(Kind(finding.kind), Fault(finding.fault))]
        try:
            with self.sessions.begin() as session:
                row = SelfFixNoticeRow(
                    device_id=device_id,
                    fault=fault,
                    status="pending",
                    notice_ts=finding.observed_at,
                    grace_until=finding.observed_at + self.config.self_fix_grace,
                    action=action,
                    finding=payload,
                    created_wall_at=self.clock(),
                )
                session.add(row)
                session.flush()
                notice_id = row.id
        except IntegrityError:  # another worker sent it first
            return OrderChange("noticed")
        with self._lock:
            self._watches.grace.setdefault(device_id, {})[fault] = (
                finding.observed_at + self.config.self_fix_grace
            )
        notice = Notice(
            device_id=device_id,
            ts=finding.observed_at,
            fault=Fault(fault),
            action=action,
            text=text,
        )
        self._send_notice(notice_id, notice)
        self._emit("notice", {"device_id": device_id, "fault": fault, "ts": finding.observed_at})
        return OrderChange("noticed", notice_id=notice_id)

    def _send_notice(self, notice_id: int, notice: Notice) -> bool:
        """Hand the notice to the publisher; a failure is counted and retried later."""
        if self.publish_notice is None:
            return False
        try:
            self.publish_notice(notice)
        except Exception:  # broker away: the row stays unpublished, resend_notices retries
            log.warning("notice %s for %s not published yet", notice_id, notice.device_id)
            self._count(OrderChange("notice_publish_failed", notice_id=notice_id))
            return False
        with self.sessions.begin() as session:
            session.execute(
                update(SelfFixNoticeRow)
                .where(SelfFixNoticeRow.id == notice_id)
                .values(published_wall_at=self.clock())
            )
        return True

    def resend_notices(self) -> int:
        """Publish pending notices the broker has not taken yet; returns how many went out."""
        if self.publish_notice is None:
            return 0
        with self.sessions() as session:
            rows = session.scalars(
                select(SelfFixNoticeRow).where(
                    SelfFixNoticeRow.status == "pending",
                    SelfFixNoticeRow.published_wall_at.is_(None),
                )
            ).all()
        sent = 0
        for row in rows:
            kind = Kind.AC if (Kind.AC, Fault(row.fault)) in CUSTOMER_SELF_FIX else Kind.WASHER
            _, text = CUSTOMER_SELF_FIX[(kind, Fault(row.fault))]
            notice = Notice(
                device_id=row.device_id,
                ts=aware(row.notice_ts),
                fault=Fault(row.fault),
                action=row.action,
                text=text,
            )
            sent += self._send_notice(row.id, notice)
        return sent

    def _escalate_notice(self, device_id: str, fault: str, ts: datetime) -> None:
        """Grace period over (device time) and no recovery: open the order now, at ``ts``."""
        with self.sessions.begin() as session:
            row = session.scalars(
                select(SelfFixNoticeRow).where(
                    SelfFixNoticeRow.device_id == device_id,
                    SelfFixNoticeRow.fault == fault,
                    SelfFixNoticeRow.status == "pending",
                )
            ).first()
            if row is None:
                self._forget_grace(device_id, fault)
                return
            finding = _finding_from_json(row.finding)
            notice_id, noticed_at = row.id, aware(row.notice_ts)
        change = self.open_or_update(finding, opened_at=ts)
        with self.sessions.begin() as session:
            session.execute(
                update(SelfFixNoticeRow)
                .where(SelfFixNoticeRow.id == notice_id, SelfFixNoticeRow.status == "pending")
                .values(status="escalated", order_id=change.order_id, closed_at=ts)
            )
            if change.order_id is not None:
                session.execute(
                    update(WorkOrderRow)
                    .where(WorkOrderRow.id == change.order_id)
                    .values(notice_id=notice_id, first_seen_at=noticed_at)
                )
        self._forget_grace(device_id, fault)
        self._count(OrderChange("escalated", change.order_id, notice_id))

    # ------------------------------------------------------------------ verification

    def _advance_verification(self, device_id: str, state: _Verifying, ts: datetime) -> None:
        if state.since is None:
            state.since, state.last_ts = ts, ts
            state.cycles = 1 if state.kind == Kind.WASHER else 0
            self._save_verification(state)
            return
        if ts < state.since:
            return
        washer = state.kind == Kind.WASHER
        if washer:
            if state.last_ts is not None and ts - state.last_ts > self.config.washer_cycle_gap:
                state.cycles += 1
                self._save_verification(state)
            state.last_ts = ts
        normal = state.normal_since is not None or not self.config.require_recovery
        if not normal:
            if washer:
                timed_out = state.cycles > self.config.recovery_timeout_cycles
            else:
                timed_out = ts - state.since >= self.config.recovery_timeout
            if timed_out:
                self._reopen_persisting(device_id, state, ts)
            return
        if washer:
            done = state.cycles > self.config.verify_cycles  # N full cycles behind us
        else:
            start = max(state.since, state.normal_since or state.since)
            done = ts - start >= timedelta(days=self.config.verify_days)
        if done:
            self._verify(device_id, state, ts)

    def _reopen_persisting(self, device_id: str, state: _Verifying, ts: datetime) -> None:
        """The evidence never returned to normal after the repair: the fix did not take."""
        with self.sessions.begin() as session:
            row = session.get(WorkOrderRow, state.order_id)
            if row is None or row.status != S.RESOLVED:
                view = None
            else:
                row.status = S.OPEN
                row.reopened += 1
                row.verify_since, row.verify_cycles = None, 0
                row.sla_breached_wall_at = None
                now = self.clock()
                row.created_wall_at, row.updated_wall_at = now, now
                row.due_wall_at = self.sla.due(
                    now, row.severity, maybe_aware(row.predicted_failure_at)
                )
                limit = (
                    f"{self.config.recovery_timeout_cycles} cycles"
                    if state.kind == Kind.WASHER
                    else f"{self.config.recovery_timeout.total_seconds() / 86400:g} days"
                )
                self._audit(
                    session,
                    row,
                    "reopened",
                    S.RESOLVED,
                    TELEMETRY,
                    device_at=ts,
                    detail={
                        "reason": f"the evidence did not return to normal within {limit}"
                        " of the repair",
                        "evidence": row.evidence,
                    },
                )
                self._webhook(session, row, "work_order.reopened")
                view = order_view(row)
        self._forget_verification(device_id, state.fault)
        if view is not None:
            self._count(OrderChange("reopened", state.order_id))
            self._emit("reopened", view)
            self._auto_assign(state.order_id)

    def _save_verification(self, state: _Verifying) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(WorkOrderRow)
                .where(WorkOrderRow.id == state.order_id, WorkOrderRow.status == S.RESOLVED)
                .values(verify_since=state.since, verify_cycles=state.cycles)
            )

    def _verify(self, device_id: str, state: _Verifying, ts: datetime) -> None:
        with self.sessions.begin() as session:
            row = session.get(WorkOrderRow, state.order_id)
            if row is not None and row.status == S.RESOLVED:
                row.status = S.VERIFIED
                row.verified_at = ts
                row.verify_cycles = state.cycles
                row.updated_wall_at = self.clock()
                self._audit(
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
                self._webhook(session, row, "work_order.status_changed")
                view = order_view(row)
            else:
                view = None
        self._forget_verification(device_id, state.fault)
        if view is not None:
            self._count(OrderChange("verified", state.order_id))
            self._emit("verified", view)

    # ------------------------------------------------------------------ people's moves

    def transition(
        self,
        order_id: str,
        target: str,
        *,
        actor: str,
        scope: Scope = ADMIN,
        technician_id: str | None = None,
        scheduled_for: datetime | None = None,
        root_cause: str | None = None,
        parts_used: Sequence[str] | None = None,
        notes: str | None = None,
    ) -> dict[str, Any]:
        """Move an order; raises IllegalTransition (409), InvalidRequest (422), OrderNotFound."""
        if target == S.ASSIGNED and technician_id is None:
            technician_id = self._pick_technician(order_id)
            if technician_id is None:
                raise InvalidRequest("no technician with the skill, region and capacity for it")
        outcome: Outcome | None = None
        with self.sessions.begin() as session:
            row = session.get(WorkOrderRow, order_id, with_for_update=True)
            if row is None or not visible(row, scope):
                raise OrderNotFound(order_id)
            previous = row.status
            check_transition(previous, target)
            if scope.role is Role.TECHNICIAN and target == S.ASSIGNED:
                raise IllegalTransition("a technician cannot assign orders")
            detail: dict[str, Any] = {}
            if target == S.ASSIGNED:
                tech = session.get(TechnicianRow, technician_id)
                if tech is None or not tech.active:
                    raise InvalidRequest(f"no active technician {technician_id!r}")
                row.technician_id, row.provider_id = tech.id, tech.provider_id
                detail["technician_id"] = tech.id
            if target == S.OPEN and previous == S.ASSIGNED:  # declined: back to dispatch
                detail["declined_by"] = row.technician_id
                row.technician_id, row.provider_id = None, None
            if target == S.SCHEDULED:
                if scheduled_for is None:
                    raise InvalidRequest("scheduling needs scheduled_for")
                row.scheduled_for = scheduled_for
                detail["scheduled_for"] = scheduled_for.isoformat()
            if target == S.RESOLVED:
                valid = {str(f) for f in FAULTS_BY_KIND[Kind(row.kind)]}
                if root_cause not in valid:
                    raise InvalidRequest(
                        f"resolving needs root_cause, one of: {', '.join(sorted(valid))}"
                    )
                row.root_cause = root_cause
                row.parts_used = list(parts_used or [])
                row.verify_since, row.verify_cycles = None, 0
                detail.update(root_cause=root_cause, parts_used=row.parts_used)
                outcome = Outcome(
                    row.device_id, Fault(row.fault), Fault(root_cause), _evidence(row)
                )
            if target == S.FALSE_ALARM:
                outcome = Outcome(row.device_id, Fault(row.fault), None, _evidence(row))
            if notes:
                row.notes = notes if not row.notes else f"{row.notes}\n{notes}"
                detail["notes"] = notes
            row.status = target
            row.updated_wall_at = self.clock()
            self._audit(session, row, target, previous, actor, detail=detail)
            self._webhook(session, row, "work_order.status_changed")
            view = order_view(row)
            kind, device_id, fault = row.kind, row.device_id, row.fault
            normal_since = maybe_aware(row.evidence_normal_since)
        if target == S.RESOLVED:
            with self._lock:
                self._watches.verifying.setdefault(device_id, {})[fault] = _Verifying(
                    order_id, fault, kind, None, 0, normal_since
                )
        elif previous == S.RESOLVED:
            self._forget_verification(device_id, fault)
        if outcome is not None and self.detector is not None:
            try:
                self.detector.learn_from_outcome(outcome)
            except Exception:  # a detector bug must not undo a technician's report
                log.exception("learn_from_outcome failed for %s", order_id)
        self._emit("transition", view)
        return view

    def _pick_technician(self, order_id: str) -> str | None:
        with self.sessions() as session:
            row = session.get(WorkOrderRow, order_id)
            if row is None:
                return None
            candidates = self.candidates(session)
            bonus = self.dispatch_bonus(row.brand) if self.dispatch_bonus else None  # quality
            best = choose_technician(candidates, kind=row.kind, region=row.region, bonus=bonus)
            return None if best is None else best.technician_id

    def candidates(self, session: Session) -> list[Candidate]:
        """Every technician with their current load (orders in hand)."""
        loads = dict(
            session.execute(
                select(WorkOrderRow.technician_id, func.count())
                .where(WorkOrderRow.status.in_(IN_HAND))
                .group_by(WorkOrderRow.technician_id)
            ).all()
        )
        providers = {p.id: p for p in session.scalars(select(ProviderRow))}
        out = []
        for tech in session.scalars(select(TechnicianRow).where(TechnicianRow.active.is_(True))):
            provider = providers.get(tech.provider_id or "")
            regions = tech.regions or (provider.regions if provider else [])
            skills = tech.skills or (provider.skills if provider else [])
            out.append(
                Candidate(
                    tech.id,
                    tech.provider_id,
                    tuple(skills),
                    tuple(regions),
                    tech.daily_capacity,
                    tech.rating,
                    int(loads.get(tech.id, 0)),
                    provider.rating if provider else 0.0,
                )
            )
        return out

    def _auto_assign(self, order_id: str) -> None:
        if not self.config.auto_assign:
            return
        technician_id = self._pick_technician(order_id)
        if technician_id is None:
            return
        try:
            self.transition(order_id, S.ASSIGNED, actor=DISPATCH, technician_id=technician_id)
        except (IllegalTransition, InvalidRequest, OrderNotFound):
            return  # someone moved it meanwhile; fine

    # ------------------------------------------------------------------ reads

    def get(self, order_id: str, scope: Scope = ADMIN) -> dict[str, Any]:
        with self.sessions() as session:
            row = session.get(WorkOrderRow, order_id)
            if row is None or not visible(row, scope):
                raise OrderNotFound(order_id)
            return order_view(row, now=self.clock())

    def audit(self, order_id: str, scope: Scope = ADMIN) -> list[dict[str, Any]]:
        with self.sessions() as session:
            row = session.get(WorkOrderRow, order_id)
            if row is None or not visible(row, scope):
                raise OrderNotFound(order_id)
            entries = session.scalars(
                select(AuditRow).where(AuditRow.order_id == order_id).order_by(AuditRow.id)
            ).all()
            return [
                {
                    "action": e.action,
                    "from": e.from_status,
                    "to": e.to_status,
                    "actor": e.actor,
                    "at": iso(e.wall_at),
                    "device_at": iso(e.device_at),
                    "detail": e.detail,
                }
                for e in entries
            ]

    def list_orders(
        self,
        scope: Scope = ADMIN,
        *,
        status: str | None = None,
        device_id: str | None = None,
        fault: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first (ids sort by creation time); ``next`` is the last id shown, or None."""
        query = select(WorkOrderRow).order_by(WorkOrderRow.id.desc()).limit(limit + 1)
        query = scoped(query, scope)
        if status:
            query = query.where(WorkOrderRow.status == status)
        if device_id:
            query = query.where(WorkOrderRow.device_id == device_id)
        if fault:
            query = query.where(WorkOrderRow.fault == fault)
        if cursor:
            query = query.where(WorkOrderRow.id < cursor)
        now = self.clock()
        with self.sessions() as session:
            rows = session.scalars(query).all()
            items = [order_view(r, now=now) for r in rows[:limit]]
        more = len(rows) > limit
        return items, (items[-1]["id"] if more and items else None)

    def sla_breaches(self, scope: Scope = ADMIN) -> list[dict[str, Any]]:
        """Orders past their due time whose SLA clock still runs (flags them on the way)."""
        self.sweep_sla()
        query = scoped(
            select(WorkOrderRow)
            .where(
                WorkOrderRow.sla_breached_wall_at.is_not(None),
                WorkOrderRow.status.not_in(SLA_STOPPED),
            )
            .order_by(WorkOrderRow.due_wall_at),
            scope,
        )
        now = self.clock()
        with self.sessions() as session:
            return [order_view(r, now=now) for r in session.scalars(query)]

    def sweep_sla(self) -> list[str]:
        """Flag newly breached orders (audit + webhook ``work_order.sla_breached``)."""
        now = self.clock()
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(WorkOrderRow).where(
                    WorkOrderRow.due_wall_at < now,
                    WorkOrderRow.sla_breached_wall_at.is_(None),
                    WorkOrderRow.status.not_in(SLA_STOPPED),
                )
            ).all()
            for row in rows:
                row.sla_breached_wall_at = now
                self._audit(session, row, "sla_breached", row.status, "sla", detail={})
                self._webhook(session, row, "work_order.sla_breached")
            return [r.id for r in rows]

    # ------------------------------------------------------------------ plumbing

    def reload_watches(self) -> None:
        """Re-read pending notices and orders under verification (other workers' changes)."""
        watches = _Watches()
        with self.sessions() as session:
            for n in session.scalars(
                select(SelfFixNoticeRow).where(SelfFixNoticeRow.status == "pending")
            ):
                watches.grace.setdefault(n.device_id, {})[n.fault] = aware(n.grace_until)
            for o in session.scalars(select(WorkOrderRow).where(WorkOrderRow.status == S.RESOLVED)):
                since = maybe_aware(o.verify_since)
                watches.verifying.setdefault(o.device_id, {})[o.fault] = _Verifying(
                    o.id,
                    o.fault,
                    o.kind,
                    since,
                    o.verify_cycles,
                    maybe_aware(o.evidence_normal_since),
                )
        with self._lock:
            # keep in-memory progress (last_ts) of states we already follow
            for device_id, states in watches.verifying.items():
                for fault, state in states.items():
                    known = self._watches.verifying.get(device_id, {}).get(fault)
                    if known is not None and known.order_id == state.order_id:
                        states[fault] = known
            self._watches = watches
            self._watches_loaded_at = time.monotonic()

    def _forget_grace(self, device_id: str, fault: str) -> None:
        with self._lock:
            faults = self._watches.grace.get(device_id)
            if faults is not None:
                faults.pop(fault, None)
                if not faults:
                    del self._watches.grace[device_id]

    def _forget_verification(self, device_id: str, fault: str) -> None:
        with self._lock:
            faults = self._watches.verifying.get(device_id)
            if faults is not None:
                faults.pop(fault, None)
                if not faults:
                    del self._watches.verifying[device_id]

    def _audit(
        self,
        session: Session,
        row: WorkOrderRow,
        action: str,
        previous: str | None,
        actor: str,
        *,
        device_at: datetime | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuditRow(
                order_id=row.id,
                action=action,
                from_status=previous,
                to_status=row.status,
                actor=actor,
                wall_at=self.clock(),
                device_at=device_at,
                detail=detail or {},
            )
        )
        for hook in self.audit_hooks:  # service quality: same session, same transaction
            hook(session, row, action, previous, actor, device_at, detail or {})

    def _webhook(self, session: Session, row: WorkOrderRow, event_type: str) -> None:
        enqueue_event(
            session,
            brand=row.brand,
            event_type=event_type,
            data=order_view(row, now=self.clock()),
            order_id=row.id,
            now=self.clock(),
        )

    def _emit(self, what: str, data: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(what, data)
            except Exception:
                log.exception("work-order listener failed")

    def _count(self, change: OrderChange) -> OrderChange:
        with self._lock:
            self.counts[change.action] = self.counts.get(change.action, 0) + 1
        return change


def visible(row: WorkOrderRow, scope: Scope) -> bool:
    if scope.role is Role.ADMIN:
        return True
    if scope.role is Role.BRAND:
        return row.brand is not None and row.brand == scope.brand
    return row.technician_id is not None and row.technician_id == scope.technician_id


def scoped(query: Any, scope: Scope) -> Any:
    if scope.role is Role.BRAND:
        return query.where(WorkOrderRow.brand == scope.brand)
    if scope.role is Role.TECHNICIAN:
        return query.where(WorkOrderRow.technician_id == scope.technician_id)
    return query


def warranty_status(warranty_until: Any, at: datetime) -> str:
    """From the birth message's ``warranty_until``, judged at the order's device time."""
    if warranty_until is None:
        return WarrantyStatus.UNKNOWN
    return WarrantyStatus.IN_WARRANTY if at.date() <= warranty_until else WarrantyStatus.EXPIRED


def _evidence(row: WorkOrderRow) -> tuple[Evidence, ...]:
    return tuple(Evidence.model_validate(e, strict=False) for e in row.evidence or [])


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "device_id": finding.device_id,
        "kind": str(finding.kind),
        "fault": str(finding.fault),
        "confidence": finding.confidence,
        "severity": str(finding.severity),
        "observed_at": finding.observed_at.isoformat(),
        "evidence": [e.model_dump(mode="json") for e in finding.evidence],
        "alternatives": [a.model_dump(mode="json") for a in finding.alternatives],
        "predicted_failure_at": (
            finding.predicted_failure_at.isoformat() if finding.predicted_failure_at else None
        ),
    }


def _finding_from_json(data: dict[str, Any]) -> Finding:
    from edge.contract import Alternative, Severity

    predicted = data.get("predicted_failure_at")
    return Finding(
        device_id=data["device_id"],
        kind=Kind(data["kind"]),
        fault=Fault(data["fault"]),
        confidence=float(data["confidence"]),
        severity=Severity(data["severity"]),
        observed_at=aware(datetime.fromisoformat(data["observed_at"])),
        evidence=tuple(Evidence.model_validate(e, strict=False) for e in data["evidence"]),
        alternatives=tuple(
            Alternative.model_validate(a, strict=False) for a in data["alternatives"]
        ),
        predicted_failure_at=aware(datetime.fromisoformat(predicted)) if predicted else None,
    )
