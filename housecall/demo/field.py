"""A simulated field-service team for the demo: technicians who visit, diagnose and repair.

It plays the people's side of the loop in DEVICE time, so a fleet fast-forwarded
over weeks gets visits a day or two after an order opens. Each visit walks the
standard flow through :meth:`WorkOrderService.transition` (accepted -> scheduled ->
on_site -> resolved, or false_alarm when the simulated unit has no such fault), and
repairs the simulated appliance by zeroing its injected fault, so the detectors see
it recover and fix verification can run. One repair per demo is botched on purpose
(``botch_first_repair_of``: a device id, or n for the n-th device visited): its
evidence never recovers and the order reopens, then a second visit fixes it.

Customers who get a self-fix notice (dirty filter, washer drain filter) follow it
half a day later (device time), which repairs the simulated unit: the detectors see
it recover within the grace period and no technician is sent.

It sits between the pipeline and the service as the :class:`SignalSink` (it
forwards every call), because that is where device time flows.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from detectors.api import Signal
from edge.contract import WorkOrderStatus as S
from gateway.workorders.lifecycle import IllegalTransition
from gateway.workorders.service import DeviceRef, InvalidRequest, WorkOrderService

log = logging.getLogger(__name__)


class Repairable(Protocol):
    """The simulator's fault plan for one device (``simulators.faults.FaultPlan``)."""

    fault: Any
    severity: float


@dataclass(order=True)
class _Visit:
    due: datetime
    order_id: str = field(compare=False)
    device_id: str = field(compare=False)
    fault: str = field(compare=False)


class DemoFieldService:
    """Forwards the pipeline's calls to the service and plays the technicians."""

    def __init__(
        self,
        service: WorkOrderService,
        plans: dict[str, Repairable],
        *,
        visit_after: timedelta = timedelta(days=1),
        botch_first_repair_of: str | int | None = None,
        customers_follow_notices: bool = True,
    ) -> None:
        self.service = service
        self.plans = plans
        self.visit_after = visit_after
        self.botch = botch_first_repair_of
        self.device_now: datetime | None = None
        self._visits: list[_Visit] = []
        self._lock = threading.Lock()
        self._botched: set[str] = set()
        self._visited: list[str] = []
        self.visits = 0
        self.repairs = 0
        self.false_alarms = 0
        self.customer_fixes = 0
        self.customers_follow_notices = customers_follow_notices
        self.errors: list[str] = []
        service.listeners.append(self._on_change)

    # the pipeline's SignalSink
    def handle(self, device: DeviceRef, ts: datetime, signals: Sequence[Signal]) -> None:
        self.service.handle(device, ts, signals)
        if self.device_now is None or ts > self.device_now:
            self.device_now = ts
        self._visit_due(ts)

    def _on_change(self, what: str, data: dict[str, Any]) -> None:
        if what == "notice" and self.customers_follow_notices:
            # the customer reads the notice and cleans the filter half a day later
            due = data["ts"] + timedelta(hours=12)
            with self._lock:
                heapq.heappush(self._visits, _Visit(due, "", data["device_id"], data["fault"]))
            return
        if what not in {"opened", "reopened"}:
            return
        opened = datetime.fromisoformat(str(data["opened_at"]))
        start = max(opened, self.device_now or opened)
        with self._lock:
            heapq.heappush(
                self._visits,
                _Visit(start + self.visit_after, data["id"], data["device_id"], data["fault"]),
            )

    def _visit_due(self, now: datetime) -> None:
        while True:
            with self._lock:
                if not self._visits or self._visits[0].due > now:
                    return
                visit = heapq.heappop(self._visits)
            try:
                if visit.order_id:
                    self._visit(visit)
                else:
                    self._customer_cleans(visit)
            except (IllegalTransition, InvalidRequest) as err:
                self.errors.append(f"{visit.order_id}: {err}")

    def _customer_cleans(self, visit: _Visit) -> None:
        plan = self.plans.get(visit.device_id)
        if plan is not None and str(plan.fault) == visit.fault and plan.severity > 0.0:
            plan.severity = 0.0  # a clean filter: the appliance recovers by itself
            self.customer_fixes += 1

    @property
    def botched(self) -> list[str]:
        return sorted(self._botched)

    def _visit(self, visit: _Visit) -> None:
        order = self.service.get(visit.order_id)
        if order["status"] not in {S.OPEN, S.ASSIGNED}:
            return
        self.visits += 1
        move = self.service.transition
        if order["status"] == S.OPEN:
            move(visit.order_id, S.ASSIGNED, actor="dispatch")
            order = self.service.get(visit.order_id)
        tech = f"technician:{order['technician_id']}"
        move(visit.order_id, S.ACCEPTED, actor=tech)
        move(visit.order_id, S.SCHEDULED, actor=tech, scheduled_for=visit.due)
        move(visit.order_id, S.ON_SITE, actor=tech)
        plan = self.plans.get(visit.device_id)
        if plan is not None and plan.severity <= 0.0 and order["reopened"]:
            # Repaired on an earlier visit, yet the evidence has not recovered: the
            # technician re-checks, confirms the repair and resolves it again.
            move(
                visit.order_id,
                S.RESOLVED,
                actor=tech,
                root_cause=str(plan.fault),
                notes="re-checked: the earlier repair holds",
            )
            return
        if plan is None or plan.severity <= 0.0:
            self.false_alarms += 1
            move(visit.order_id, S.FALSE_ALARM, actor=tech, notes="unit found healthy")
            return
        # The technician finds the real cause, which may differ from the prediction: that
        # root cause is what the detectors learn from.
        found = str(plan.fault)
        if visit.device_id not in self._visited:
            self._visited.append(visit.device_id)
        target = self.botch
        if isinstance(target, int):  # the n-th device visited
            target = self._visited[target - 1] if len(self._visited) >= target else None
        botched = visit.device_id == target and visit.device_id not in self._botched
        if botched:
            self._botched.add(visit.device_id)
            notes = "replaced a part; the cause was elsewhere (demo: botched repair)"
        else:
            plan.severity = 0.0  # the simulated appliance is repaired from now on
            self.repairs += 1
            notes = "repaired" if found == visit.fault else f"found {found} instead; repaired"
        move(
            visit.order_id,
            S.RESOLVED,
            actor=tech,
            root_cause=found,
            parts_used=list(order["recommended_parts"][:1]),
            notes=notes,
        )


def seed_technicians(sessions: Any, regions: Sequence[str]) -> int:
    """One provider per region with an AC, a washer and an all-round technician."""
    from gateway.workorders.ids import utcnow
    from gateway.workorders.tables import ProviderRow, TechnicianRow

    now = utcnow()
    count = 0
    with sessions.begin() as session:
        for n, region in enumerate(sorted(set(regions))):
            provider = ProviderRow(
                id=f"sp_demo_{n}",
                name=f"{region} Home Service",
                skills=["ac", "washer"],
                regions=[region],
                rating=4.2 + 0.1 * (n % 5),
                created_wall_at=now,
            )
            session.add(provider)
            for k, skills in enumerate((["ac"], ["washer"], ["ac", "washer"])):
                session.add(
                    TechnicianRow(
                        id=f"tech_demo_{n}_{k}",
                        name=f"Technician {n}.{k}",
                        provider_id=provider.id,
                        skills=skills,
                        regions=[],
                        daily_capacity=4,
                        rating=4.0 + 0.3 * k,
                        active=True,
                        created_wall_at=now,
                    )
                )
                count += 1
    return count
