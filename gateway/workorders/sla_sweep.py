"""SLA on the wall clock: flag orders past their due time, list the breached ones.

The deadlines themselves come from :class:`~gateway.workorders.sla.SlaPolicy` when an
order opens (or its severity rises, or it reopens); this part only notices when a
deadline has passed: an audit entry and a ``work_order.sla_breached`` webhook, once.

Threads: the service loop's sweeper and an API call to ``/sla/breaches`` may sweep at
the same moment; a lock keeps them one at a time in this process, else both would
flag the same order (two audit entries, two webhooks).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from gateway.workorders.context import Context
from gateway.workorders.journal import Journal
from gateway.workorders.keys import ADMIN, Scope
from gateway.workorders.queries import scoped
from gateway.workorders.sla import SLA_STOPPED
from gateway.workorders.tables import WorkOrderRow
from gateway.workorders.views import order_view


class SlaSweep:
    def __init__(self, ctx: Context, journal: Journal) -> None:
        self._ctx = ctx
        self._journal = journal
        self._sweeping = threading.Lock()

    def breaches(self, scope: Scope = ADMIN) -> list[dict[str, Any]]:
        """Orders past their due time whose SLA clock still runs (flags them on the way)."""
        self.sweep()
        query = scoped(
            select(WorkOrderRow)
            .where(
                WorkOrderRow.sla_breached_wall_at.is_not(None),
                WorkOrderRow.status.not_in(SLA_STOPPED),
            )
            .order_by(WorkOrderRow.due_wall_at),
            scope,
        )
        now = self._ctx.clock()
        with self._ctx.sessions() as session:
            return [order_view(r, now=now) for r in session.scalars(query)]

    def sweep(self) -> list[str]:
        """Flag newly breached orders (audit + webhook ``work_order.sla_breached``)."""
        with self._sweeping:
            now = self._ctx.clock()
            with self._ctx.sessions.begin() as session:
                rows = session.scalars(
                    select(WorkOrderRow).where(
                        WorkOrderRow.due_wall_at < now,
                        WorkOrderRow.sla_breached_wall_at.is_(None),
                        WorkOrderRow.status.not_in(SLA_STOPPED),
                    )
                ).all()
                for row in rows:
                    row.sla_breached_wall_at = now
                    self._journal.audit(session, row, "sla_breached", row.status, "sla", detail={})
                    self._journal.webhook(session, row, "work_order.sla_breached")
                return [r.id for r in rows]
