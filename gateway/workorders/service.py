"""The work-order service: one object for the pipeline, the API and the service loop.

A thin facade. Each job lives in its own module and this class only builds them and
hands calls on (see ``gateway/workorders/README.md`` for the map):

- the pipeline's sink, ``handle(device, ts, signals)`` -- :mod:`.sink`, which routes
  findings to :mod:`.self_fix` (notice first) or :mod:`.opening` (open or update the
  one active order per device and fault), recoveries to :mod:`.verification` and
  :mod:`.self_fix`, and ticks the device-time timers of :mod:`.watches`;
- people's moves, ``transition`` -- :mod:`.transitions` (rules in :mod:`.lifecycle`),
  technicians picked by :mod:`.assignment` (ranking in :mod:`.dispatch`);
- reads, ``get``/``audit``/``list_orders`` -- :mod:`.queries`; SLA, ``sweep_sla``/
  ``sla_breaches`` -- :mod:`.sla_sweep`; unpublished notices, ``resend_notices``;
- every change's audit entry, webhook, events and counters -- :mod:`.journal`.

Other layers extend it through :mod:`.events`, never by replacing its attributes:
``subscribe(events)`` (in-transaction and after-commit events; service quality uses
it) and ``prefer(advice)`` (dispatch bonus per candidate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from detectors.api import Finding, FleetDetector, Recovery, Signal
from gateway.workorders.assignment import IN_HAND, Dispatcher
from gateway.workorders.catalogue import PartsCatalogue
from gateway.workorders.config import ServiceConfig
from gateway.workorders.context import Context
from gateway.workorders.dispatch import Candidate
from gateway.workorders.errors import InvalidRequest, OrderNotFound
from gateway.workorders.events import DispatchAdvice, EventBus, Listener, WorkOrderEvents
from gateway.workorders.ids import utcnow
from gateway.workorders.journal import DETECTORS, DISPATCH, TELEMETRY, Journal, OrderChange
from gateway.workorders.keys import ADMIN, Scope
from gateway.workorders.notices import NoticePublisher
from gateway.workorders.opening import Opening, warranty_status
from gateway.workorders.queries import Queries, scoped, visible
from gateway.workorders.self_fix import SelfFix
from gateway.workorders.sink import DeviceRef, Sink
from gateway.workorders.sla import SlaPolicy
from gateway.workorders.sla_sweep import SlaSweep
from gateway.workorders.transitions import Transitions
from gateway.workorders.verification import Verification
from gateway.workorders.watches import Watches

__all__ = [
    "DETECTORS",
    "DISPATCH",
    "IN_HAND",
    "TELEMETRY",
    "DeviceRef",
    "InvalidRequest",
    "OrderChange",
    "OrderNotFound",
    "ServiceConfig",
    "WorkOrderService",
    "scoped",
    "visible",
    "warranty_status",
]


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
        ctx = self._ctx = Context(
            sessions,
            config=config or ServiceConfig(),
            sla=sla or SlaPolicy(),
            catalogue=catalogue or PartsCatalogue.load(),
            clock=clock,
            detector=detector,
            publish_notice=publish_notice,
        )
        self._events = EventBus()
        #: After-commit listeners ``(event, data)``; :meth:`subscribe` is the full form.
        self.listeners: list[Listener] = self._events.listeners
        journal = self._journal = Journal(ctx, self._events)
        watches = self._watches = Watches(sessions, ctx.config.watch_refresh_s)
        self._dispatcher = Dispatcher(sessions)
        transitions = self._transitions = Transitions(ctx, journal, watches, self._dispatcher)
        opening = self._opening = Opening(ctx, journal, watches, transitions)
        self_fix = self._self_fix = SelfFix(ctx, journal, watches, opening)
        verification = Verification(ctx, journal, watches, transitions)
        self._sink = Sink(journal, watches, opening, self_fix, verification)
        self._queries = Queries(ctx)
        self._sla_sweep = SlaSweep(ctx, journal)
        self.reload_watches()

    # ------------------------------------------------------------------ extension points

    def subscribe(self, events: WorkOrderEvents) -> None:
        """Hear every order change, in its transaction and after its commit."""
        self._events.subscribe(events)

    def prefer(self, advice: DispatchAdvice | None) -> None:
        """Let ``advice`` add a per-candidate bonus to dispatch's ranking (None: stop)."""
        self._dispatcher.prefer(advice)

    # ------------------------------------------------------------------ shared settings

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._ctx.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self._ctx.clock = clock

    @property
    def publish_notice(self) -> NoticePublisher | None:
        return self._ctx.publish_notice

    @publish_notice.setter
    def publish_notice(self, publish: NoticePublisher | None) -> None:
        self._ctx.publish_notice = publish

    @property
    def detector(self) -> FleetDetector | None:
        return self._ctx.detector

    @detector.setter
    def detector(self, detector: FleetDetector | None) -> None:
        self._ctx.detector = detector

    @property
    def config(self) -> ServiceConfig:
        return self._ctx.config

    @property
    def sla(self) -> SlaPolicy:
        return self._ctx.sla

    @property
    def catalogue(self) -> PartsCatalogue:
        return self._ctx.catalogue

    @property
    def counts(self) -> dict[str, int]:
        """What the service did, by action: a snapshot, safe to read from any thread."""
        return self._journal.counts()

    # ------------------------------------------------------------------ the sink

    def handle(self, device: DeviceRef, ts: datetime, signals: Sequence[Signal]) -> None:
        """Pipeline hook: every accepted message of ``device`` at device time ``ts``."""
        self._sink.handle(device, ts, signals)

    def tick(self, device_id: str, ts: datetime) -> None:
        self._sink.tick(device_id, ts)

    def on_finding(self, finding: Finding) -> OrderChange:
        return self._sink.on_finding(finding)

    def on_recovery(self, recovery: Recovery) -> None:
        self._sink.on_recovery(recovery)

    def open_or_update(self, finding: Finding, *, opened_at: datetime | None = None) -> OrderChange:
        return self._opening.open_or_update(finding, opened_at=opened_at)

    def reload_watches(self) -> None:
        """Re-read pending notices and orders under verification (other workers' changes)."""
        self._watches.reload()

    def resend_notices(self) -> int:
        return self._self_fix.resend()

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
        return self._transitions.transition(
            order_id,
            target,
            actor=actor,
            scope=scope,
            technician_id=technician_id,
            scheduled_for=scheduled_for,
            root_cause=root_cause,
            parts_used=parts_used,
            notes=notes,
        )

    def candidates(self, session: Session) -> list[Candidate]:
        """Every technician with their current load (orders in hand)."""
        return self._dispatcher.candidates(session)

    # ------------------------------------------------------------------ reads and SLA

    def get(self, order_id: str, scope: Scope = ADMIN) -> dict[str, Any]:
        return self._queries.get(order_id, scope)

    def audit(self, order_id: str, scope: Scope = ADMIN) -> list[dict[str, Any]]:
        return self._queries.audit(order_id, scope)

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
        return self._queries.list_orders(
            scope, status=status, device_id=device_id, fault=fault, limit=limit, cursor=cursor
        )

    def sla_breaches(self, scope: Scope = ADMIN) -> list[dict[str, Any]]:
        """Orders past their due time whose SLA clock still runs (flags them on the way)."""
        return self._sla_sweep.breaches(scope)

    def sweep_sla(self) -> list[str]:
        """Flag newly breached orders (audit + webhook ``work_order.sla_breached``)."""
        return self._sla_sweep.sweep()
