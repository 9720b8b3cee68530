"""Customer transparency: order progress, and who is coming, on ``service/{device_id}/notices``.

Every status change of an order queues a :class:`ProgressNotice` in the SAME transaction
as the change (the outbox table), and :class:`NoticeRelay` publishes queued notices in
order through the work-order service's notice publisher (QoS 1) after the commit,
marking each sent only once the publisher has taken it. A broker outage therefore
delays notices, never loses them, and never announces a change that was rolled back.

Forward compatible with contract v1: a progress notice IS a contract ``Notice``
(``schema``, ``device_id``, ``ts``, ``fault``, ``action``, ``text``); the order id,
status, technician name and badge number ride along as extra fields, which receivers
that only know v1 ignore (contract: unknown fields are ignored). ``text`` alone tells
the customer everything. ``ts`` is device time: the device's latest message.

>>> n = progress_notice("ac-1", datetime(2026, 7, 14, tzinfo=UTC), "refrigerant_leak",
...     "wo_1", "scheduled", technician="Li Wei", badge="CF-10231",
...     scheduled_for=datetime(2026, 7, 15, 9, tzinfo=UTC))
>>> n.action
'technician_scheduled'
>>> n.text
'Li Wei (ID badge CF-10231) will come on 2026-07-15 09:00 UTC to repair: refrigerant leak.'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edge.contract import Fault, Notice
from gateway.quality.tables import NoticeOutboxRow
from gateway.workorders.ids import utcnow
from gateway.workorders.notices import NoticePublisher

log = logging.getLogger(__name__)

SHORT = Annotated[str, Field(max_length=128)]

#: order status -> (notice action, customer text; {fault} {technician} {badge} {when})
PROGRESS: dict[str, tuple[str, str]] = {
    "open": (
        "service_order_opened",
        "Your appliance needs service ({fault}); we are arranging it.",
    ),
    "assigned": ("technician_assigned", "A technician has been assigned to repair: {fault}."),
    "accepted": ("technician_accepted", "The technician has accepted the repair of: {fault}."),
    "scheduled": (
        "technician_scheduled",
        "{technician} (ID badge {badge}) will come on {when} to repair: {fault}.",
    ),
    "on_site": ("technician_on_site", "{technician} (ID badge {badge}) is at your appliance."),
    "resolved": (
        "repair_done",
        "The repair is done; we keep watching your appliance to confirm it worked.",
    ),
    "verified": ("repair_verified", "Your appliance runs normally again: the repair is confirmed."),
    "closed": ("service_order_closed", "Your service order is closed."),
    "cancelled": ("service_order_cancelled", "Your service order was cancelled."),
    "false_alarm": (
        "no_fault_found",
        "The technician found no fault; no repair was needed.",
    ),
}
REOPENED = (
    "repair_not_holding",
    "The fault came back after the repair; we are sending help again.",
)


class ProgressNotice(Notice):
    """A contract v1 notice with optional extras (ignored by receivers that do not know them)."""

    order_id: SHORT | None = None
    status: SHORT | None = None
    technician_name: SHORT | None = None
    technician_badge: SHORT | None = None
    scheduled_for: AwareDatetime | None = None


def progress_notice(
    device_id: str,
    ts: datetime,
    fault: str,
    order_id: str,
    status: str,
    *,
    reopened: bool = False,
    technician: str | None = None,
    badge: str | None = None,
    scheduled_for: datetime | None = None,
) -> ProgressNotice | None:
    """The notice for ``status`` (None when the customer needs none for it)."""
    entry = REOPENED if reopened else PROGRESS.get(status)
    if entry is None:
        return None
    action, template = entry
    when = scheduled_for.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if scheduled_for else "?"
    text = template.format(
        fault=fault.replace("_", " "),
        technician=technician or "Your technician",
        badge=badge or "not on file",
        when=when,
    )
    identify = status in ("scheduled", "on_site")
    return ProgressNotice(
        device_id=device_id,
        ts=ts,
        fault=Fault(fault),
        action=action,
        text=text,
        order_id=order_id,
        status=status,
        technician_name=technician if identify else None,
        technician_badge=badge if identify else None,
        scheduled_for=scheduled_for if status == "scheduled" else None,
    )


def enqueue(session: Session, notice: ProgressNotice, *, now: datetime) -> None:
    assert notice.order_id is not None
    session.add(
        NoticeOutboxRow(
            device_id=notice.device_id,
            order_id=notice.order_id,
            body=notice.model_dump(mode="json", by_alias=True, exclude_none=True),
            status="pending",
            attempts=0,
            created_wall_at=now,
        )
    )


class NoticeRelay:
    """Publishes pending progress notices in order; a failure leaves them for the next try."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: Callable[[], NoticePublisher | None],
        *,
        batch: int = 200,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._batch = batch
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.failures = 0

    def drain(self) -> int:
        """Publish what is pending now; returns how many went out."""
        publish = self._publisher()
        if publish is None:
            return 0
        sent = 0
        with self._lock:
            with self._sessions() as session:
                pending = session.scalars(
                    select(NoticeOutboxRow)
                    .where(NoticeOutboxRow.status == "pending")
                    .order_by(NoticeOutboxRow.id)
                    .limit(self._batch)
                ).all()
                items = [(row.id, dict(row.body)) for row in pending]
            for row_id, body in items:
                try:
                    publish(ProgressNotice.model_validate(body, strict=False))
                except Exception as err:  # broker down: keep it, try again later
                    self.failures += 1
                    self._mark(row_id, error=f"{type(err).__name__}: {err}")
                    break
                self._mark(row_id, error=None)
                sent += 1
            self.published += sent  # under the lock: the relay thread and listeners both drain
        return sent

    def _mark(self, row_id: int, *, error: str | None) -> None:
        with self._sessions.begin() as session:
            row = session.get(NoticeOutboxRow, row_id)
            if row is None:
                return
            row.attempts += 1
            if error is None:
                row.status, row.sent_wall_at = "sent", utcnow()
            else:
                row.last_error = error

    def poke(self, *_: Any) -> None:
        """Wake the relay (a service listener: something changed)."""
        self._wake.set()

    def start(self, poll_s: float = 1.0) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(poll_s,), name="housecall-progress-notices", daemon=True
        )
        self._thread.start()

    def _run(self, poll_s: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(poll_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.drain()
            except Exception:  # a database hiccup must not end the relay
                log.exception("progress notice relay failed")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
