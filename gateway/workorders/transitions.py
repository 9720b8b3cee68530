"""People's moves: assign, accept, schedule, on site, resolve, close, cancel, false alarm.

One move is one transaction on the order's row (locked where the database can): the
flow's rules (:mod:`gateway.workorders.lifecycle`), the move's own details (who is
assigned, when it is scheduled, the root cause and parts of a repair), the audit entry
and the webhook. After the commit:

- ``resolved`` starts the fix verification (:mod:`gateway.workorders.verification`
  follows it on device time); leaving ``resolved`` by hand stops it;
- a root cause (or a false alarm) is taught to the detectors (``learn_from_outcome``);
  a detector's failure there is logged and does not undo the technician's report;
- listeners hear ``transition``.

Dispatch's own move (:meth:`Transitions.auto_assign`) is the same ``assigned`` move by
the actor ``dispatch``, to the technician dispatch picks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from detectors.api import Outcome
from edge.contract import FAULTS_BY_KIND, Evidence, Fault, Kind
from edge.contract import WorkOrderStatus as S
from gateway.workorders.assignment import Dispatcher, skills_of
from gateway.workorders.context import Context
from gateway.workorders.errors import InvalidRequest, OrderNotFound
from gateway.workorders.events import TRANSITION
from gateway.workorders.ids import maybe_aware
from gateway.workorders.journal import DISPATCH, Journal
from gateway.workorders.keys import ADMIN, Role, Scope
from gateway.workorders.lifecycle import IllegalTransition, check_transition
from gateway.workorders.queries import visible
from gateway.workorders.tables import ProviderRow, TechnicianRow, WorkOrderRow
from gateway.workorders.views import order_view
from gateway.workorders.watches import Verifying, Watches

log = logging.getLogger(__name__)


class Transitions:
    def __init__(
        self, ctx: Context, journal: Journal, watches: Watches, dispatcher: Dispatcher
    ) -> None:
        self._ctx = ctx
        self._journal = journal
        self._watches = watches
        self._dispatcher = dispatcher

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
            technician_id = self._dispatcher.pick(order_id)
            if technician_id is None:
                raise InvalidRequest("no technician with the skill, region and capacity for it")
        outcome: Outcome | None = None
        with self._ctx.sessions.begin() as session:
            row = session.get(WorkOrderRow, order_id, with_for_update=True)
            if row is None or not visible(row, scope):
                raise OrderNotFound(order_id)
            previous = row.status
            check_transition(previous, target)
            if scope.role is Role.TECHNICIAN and target == S.ASSIGNED:
                raise IllegalTransition("a technician cannot assign orders")
            detail = _apply(session, row, target, technician_id, scheduled_for)
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
            row.updated_wall_at = self._ctx.clock()
            self._journal.audit(session, row, target, previous, actor, detail=detail)
            self._journal.webhook(session, row, "work_order.status_changed")
            view = order_view(row)
            kind, device_id, fault = row.kind, row.device_id, row.fault
            normal_since = maybe_aware(row.evidence_normal_since)
        if target == S.RESOLVED:
            self._watches.start_verifying(
                device_id, Verifying(order_id, fault, kind, None, 0, normal_since)
            )
        elif previous == S.RESOLVED:
            self._watches.forget_verifying(device_id, fault)
        if outcome is not None and self._ctx.detector is not None:
            try:
                self._ctx.detector.learn_from_outcome(outcome)
            except Exception:  # a detector bug must not undo a technician's report
                log.exception("learn_from_outcome failed for %s", order_id)
        self._journal.emit(TRANSITION, view)
        return view

    def auto_assign(self, order_id: str) -> None:
        """Dispatch assigns a new or reopened order at once, when someone is able to go."""
        if not self._ctx.config.auto_assign:
            return
        technician_id = self._dispatcher.pick(order_id)
        if technician_id is None:
            return
        try:
            self.transition(order_id, S.ASSIGNED, actor=DISPATCH, technician_id=technician_id)
        except (IllegalTransition, InvalidRequest, OrderNotFound):
            return  # someone moved it meanwhile; fine


def _apply(
    session: Session,
    row: WorkOrderRow,
    target: str,
    technician_id: str | None,
    scheduled_for: datetime | None,
) -> dict[str, Any]:
    """Who is assigned, who declined, when it is scheduled: the row and the audit detail."""
    detail: dict[str, Any] = {}
    if target == S.ASSIGNED:
        tech = session.get(TechnicianRow, technician_id)
        if tech is None or not tech.active:
            raise InvalidRequest(f"no active technician {technician_id!r}")
        skills = skills_of(tech, session.get(ProviderRow, tech.provider_id or ""))
        if row.kind not in skills:  # dispatch never picks them; a person may not either
            raise InvalidRequest(
                f"technician {tech.id!r} does not repair {row.kind} appliances "
                f"(skills: {', '.join(skills) or 'none'})"
            )
        row.technician_id, row.provider_id = tech.id, tech.provider_id
        detail["technician_id"] = tech.id
    if target == S.OPEN and row.status == S.ASSIGNED:  # declined: back to dispatch
        detail["declined_by"] = row.technician_id
        row.technician_id, row.provider_id = None, None
    if target == S.SCHEDULED:
        if scheduled_for is None:
            raise InvalidRequest("scheduling needs scheduled_for")
        row.scheduled_for = scheduled_for
        detail["scheduled_for"] = scheduled_for.isoformat()
    return detail


def _evidence(row: WorkOrderRow) -> tuple[Evidence, ...]:
    return tuple(Evidence.model_validate(e, strict=False) for e in row.evidence or [])
