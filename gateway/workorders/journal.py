"""The traces every order change leaves, in one place so no path forgets one.

Inside the change's transaction: the audit entry (actor, wall time, device time), the
subscribers' :meth:`~gateway.workorders.events.WorkOrderEvents.order_changed`, and the
webhook event in the outbox. After the commit: the ``order_committed`` event. Beside
them, a counter per action (the metrics and the evaluation read it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.workorders.context import Context
from gateway.workorders.events import EventBus, OrderChanged
from gateway.workorders.tables import AuditRow, WorkOrderRow
from gateway.workorders.views import order_view
from gateway.workorders.webhooks import enqueue_event

#: Actors of the changes the gateway makes itself (people's are ``role:id``).
DETECTORS = "detectors"
TELEMETRY = "telemetry"
DISPATCH = "dispatch"


@dataclass(frozen=True)
class OrderChange:
    """What a finding did: ``opened``, ``updated``, ``reopened``, ``noticed`` or ``ignored``.

    Also what the service counts: ``self_fixed``, ``escalated``, ``verified``,
    ``insert_race_lost``, ``notice_publish_failed``.
    """

    action: str
    order_id: str | None = None
    notice_id: int | None = None


class Journal:
    def __init__(self, ctx: Context, events: EventBus) -> None:
        self._ctx = ctx
        self._events = events
        #: Counters are bumped by the pipeline and API threads and read by the metrics one.
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def audit(
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
        """The audit entry, then the subscribers, in the same transaction (they may refuse)."""
        session.add(
            AuditRow(
                order_id=row.id,
                action=action,
                from_status=previous,
                to_status=row.status,
                actor=actor,
                wall_at=self._ctx.clock(),
                device_at=device_at,
                detail=detail or {},
            )
        )
        self._events.changed(
            OrderChanged(session, row, action, previous, actor, device_at, detail or {})
        )

    def webhook(self, session: Session, row: WorkOrderRow, event_type: str) -> None:
        """Queue the brand's webhook in the outbox (delivered after the commit, with retries)."""
        enqueue_event(
            session,
            brand=row.brand,
            event_type=event_type,
            data=order_view(row, now=self._ctx.clock()),
            order_id=row.id,
            now=self._ctx.clock(),
        )

    def emit(self, event: str, data: dict[str, Any]) -> None:
        """After the commit: tell the listeners (their failures are logged, not raised)."""
        self._events.committed(event, data)

    def count(self, change: OrderChange) -> OrderChange:
        with self._lock:
            self._counts[change.action] = self._counts.get(change.action, 0) + 1
        return change

    def counts(self) -> dict[str, int]:
        """A snapshot: iterating the live dict while another thread adds a key would fail."""
        with self._lock:
            return dict(self._counts)
