"""Reads: one order, its audit trail, a page of orders; and who may see which order.

Every read is scoped by the caller's key (:class:`~gateway.workorders.keys.Scope`): a
brand sees its own devices' orders, a technician the orders assigned to them, an admin
everything. An order the caller may not see is reported as not found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.workorders.context import Context
from gateway.workorders.errors import OrderNotFound
from gateway.workorders.keys import ADMIN, Role, Scope
from gateway.workorders.tables import AuditRow, WorkOrderRow
from gateway.workorders.views import iso, order_view


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


class Queries:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def get(self, order_id: str, scope: Scope = ADMIN) -> dict[str, Any]:
        with self._ctx.sessions() as session:
            row = session.get(WorkOrderRow, order_id)
            if row is None or not visible(row, scope):
                raise OrderNotFound(order_id)
            return order_view(row, now=self._ctx.clock())

    def audit(self, order_id: str, scope: Scope = ADMIN) -> list[dict[str, Any]]:
        with self._ctx.sessions() as session:
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
        now = self._ctx.clock()
        with self._ctx.sessions() as session:
            rows = session.scalars(query).all()
            items = [order_view(r, now=now) for r in rows[:limit]]
        more = len(rows) > limit
        return items, (items[-1]["id"] if more and items else None)
