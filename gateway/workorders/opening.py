"""Findings become orders: the one active order per ``(device, fault)``, opened or updated.

A :class:`~detectors.api.Finding` for a device and fault with no active order inserts
one: evidence, alternatives, the parts to bring (catalogue, by model and refrigerant),
the warranty at the device time it opened, a wall-clock SLA deadline by severity. One
with an active order updates it: one more occurrence, the latest evidence, severity
may rise (never fall; a higher one can bring the deadline forward). The same fault
returning while its repair is being verified (``resolved``) reopens the order.

The database's partial unique index makes this safe across gateway workers: the
UPDATE goes first (it takes the write lock on SQLite, the row lock on PostgreSQL); an
INSERT that still loses the race goes round again and updates the winner's row.

A new or reopened order is offered to dispatch at once (``auto_assign``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from detectors.api import Finding
from edge.contract import WarrantyStatus
from edge.contract import WorkOrderStatus as S
from gateway.device_table import Device
from gateway.workorders.context import Context
from gateway.workorders.events import OPENED, REOPENED
from gateway.workorders.ids import aware, maybe_aware, new_id
from gateway.workorders.journal import DETECTORS, Journal, OrderChange
from gateway.workorders.sla import SlaPolicy, higher_severity
from gateway.workorders.tables import ACTIVE_STATUSES, WorkOrderRow
from gateway.workorders.transitions import Transitions
from gateway.workorders.views import order_view
from gateway.workorders.watches import Watches


class Opening:
    def __init__(
        self, ctx: Context, journal: Journal, watches: Watches, transitions: Transitions
    ) -> None:
        self._ctx = ctx
        self._journal = journal
        self._watches = watches
        self._transitions = transitions

    def open_or_update(self, finding: Finding, *, opened_at: datetime | None = None) -> OrderChange:
        """The single active order for the finding's (device, fault): update it or insert it."""
        for _ in range(5):
            change = self._update_active(finding)
            if change is not None:
                return change
            try:
                return self._insert(finding, opened_at or finding.observed_at)
            except IntegrityError:
                self._journal.count(OrderChange("insert_race_lost"))
                continue
        raise RuntimeError(f"could not open or update order for {finding.device_id}")

    def _update_active(self, finding: Finding) -> OrderChange | None:
        evidence = [e.model_dump(mode="json") for e in finding.evidence]
        alternatives = [a.model_dump(mode="json") for a in finding.alternatives]
        with self._ctx.sessions.begin() as session:
            active = (
                WorkOrderRow.device_id == finding.device_id,
                WorkOrderRow.fault == str(finding.fault),
                WorkOrderRow.status.in_(ACTIVE_STATUSES),
            )
            result = session.execute(
                update(WorkOrderRow)
                .where(*active)
                .values(
                    occurrences=WorkOrderRow.occurrences + 1,
                    evidence_normal_since=None,
                    last_seen_at=func.coalesce(finding.observed_at, WorkOrderRow.last_seen_at),
                    updated_wall_at=self._ctx.clock(),
                )
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            row = session.scalars(select(WorkOrderRow).where(*active)).one()
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
                    self._ctx.sla.due(
                        aware(row.created_wall_at),
                        row.severity,
                        maybe_aware(row.predicted_failure_at),
                    ),
                )
            if row.status == S.RESOLVED:
                reopen(
                    self._journal,
                    self._ctx.sla,
                    session,
                    row,
                    now=self._ctx.clock(),
                    actor=DETECTORS,
                    device_at=finding.observed_at,
                    reason="the fault returned after the repair",
                )
                action = "reopened"
            else:
                action = "updated"
                if row.severity != old_severity:
                    self._journal.audit(
                        session,
                        row,
                        "severity_raised",
                        row.status,
                        DETECTORS,
                        device_at=finding.observed_at,
                        detail={"from": old_severity, "to": row.severity},
                    )
                    self._journal.webhook(session, row, "work_order.updated")
            order_id = row.id
            view = order_view(row)
        if action == "reopened":
            self._watches.forget_verifying(finding.device_id, str(finding.fault))
            self._journal.emit(REOPENED, view)
            self._transitions.auto_assign(order_id)
        return OrderChange(action, order_id)

    def _insert(self, finding: Finding, opened_at: datetime) -> OrderChange:
        device = self._device(finding.device_id)
        kind = str(finding.kind)
        now = self._ctx.clock()
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
            recommended_parts=self._ctx.catalogue.parts_for(
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
            due_wall_at=self._ctx.sla.due(now, str(finding.severity), finding.predicted_failure_at),
        )
        with self._ctx.sessions.begin() as session:
            session.add(row)
            session.flush()  # the unique index speaks here
            self._journal.audit(session, row, "opened", None, DETECTORS, device_at=opened_at)
            self._journal.webhook(session, row, "work_order.opened")
            view = order_view(row)
        self._journal.emit(OPENED, view)
        self._transitions.auto_assign(row.id)
        return OrderChange("opened", row.id)

    def _device(self, device_id: str) -> dict[str, Any]:
        with self._ctx.sessions() as session:
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


def reopen(
    journal: Journal,
    sla: SlaPolicy,
    session: Session,
    row: WorkOrderRow,
    *,
    now: datetime,
    actor: str,
    device_at: datetime,
    reason: str,
) -> None:
    """Back to ``open`` from ``resolved``: the repair did not hold. A fresh SLA from now.

    The technician stays on the order (they know the unit); the audit entry carries the
    reason and the evidence, and the brand hears ``work_order.reopened``.
    """
    previous = row.status
    row.status = S.OPEN
    row.reopened += 1
    row.verify_since, row.verify_cycles = None, 0
    row.sla_breached_wall_at = None
    row.created_wall_at = now
    row.due_wall_at = sla.due(now, row.severity, maybe_aware(row.predicted_failure_at))
    journal.audit(
        session,
        row,
        "reopened",
        previous,
        actor,
        device_at=device_at,
        detail={"reason": reason, "evidence": row.evidence},
    )
    journal.webhook(session, row, "work_order.reopened")


def warranty_status(warranty_until: Any, at: datetime) -> str:
    """From the birth message's ``warranty_until``, judged at the order's device time."""
    if warranty_until is None:
        return WarrantyStatus.UNKNOWN
    return WarrantyStatus.IN_WARRANTY if at.date() <= warranty_until else WarrantyStatus.EXPIRED
