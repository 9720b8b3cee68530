"""Webhooks to brands' field-service systems: signed, durable, retried until delivered.

Why an outbox: an event is written to ``webhook_outbox`` in the SAME database
transaction as the order change that caused it, so a crash or a receiver outage can
delay an event but never lose it. A background :class:`WebhookDispatcher` (one per
gateway worker; rows are claimed with a lease, so several can run) POSTs due rows in
the order the events happened (per subscription, a failing row holds back the later
ones), logs every attempt in ``webhook_attempts`` and backs off exponentially (wall clock)
while the receiver is down.

Signature (documented for receivers): each POST carries

- ``Housecall-Event``: the event type, e.g. ``work_order.opened``
- ``Housecall-Delivery``: the delivery id (stable across retries: de-duplicate on it)
- ``Housecall-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
  ``HMAC-SHA256(secret, f"{t}." + raw_body)``. Receivers recompute it over the raw
  bytes, compare in constant time and reject stale ``t`` (see :func:`verify_signature`).

>>> header = sign(b'{"a":1}', "s3cret", timestamp=1700000000)
>>> header.startswith("t=1700000000,v1=")
True
>>> verify_signature(b'{"a":1}', header, "s3cret", now=1700000010)
True
>>> verify_signature(b'{"a":2}', header, "s3cret", now=1700000010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.workorders.ids import aware, new_id, utcnow
from gateway.workorders.tables import (
    WebhookAttemptRow,
    WebhookOutboxRow,
    WebhookSubscriptionRow,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Housecall-Signature"
EVENT_HEADER = "Housecall-Event"
DELIVERY_HEADER = "Housecall-Delivery"
DEFAULT_TOLERANCE_S = 300

#: ``sender(url, body, headers, timeout_s) -> HTTP status``; raises on network errors.
Sender = Callable[[str, bytes, Mapping[str, str], float], int]


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Housecall-Signature`` header value for ``body``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(
    body: bytes,
    header: str,
    secret: str,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute the HMAC over the raw body, reject stale timestamps."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - t) > tolerance_s:
        return False
    expected = sign(body, secret, timestamp=t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def enqueue_event(
    session: Session,
    *,
    brand: str | None,
    event_type: str,
    data: dict[str, Any],
    order_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Add one outbox row per matching subscription (caller commits with its change)."""
    wall = now or utcnow()
    subs = session.scalars(
        select(WebhookSubscriptionRow).where(
            WebhookSubscriptionRow.active.is_(True),
            or_(WebhookSubscriptionRow.brand.is_(None), WebhookSubscriptionRow.brand == brand),
        )
    ).all()
    count = 0
    for sub in subs:
        if sub.events and event_type not in sub.events:
            continue
        delivery_id = new_id("whd")
        body = orjson.dumps(
            {
                "id": delivery_id,
                "type": event_type,
                "created_at": wall.isoformat().replace("+00:00", "Z"),
                "data": data,
            }
        ).decode()
        session.add(
            WebhookOutboxRow(
                subscription_id=sub.id,
                event_id=delivery_id,
                event_type=event_type,
                order_id=order_id,
                body=body,
                status="pending",
                attempts=0,
                next_attempt_wall_at=wall,
                created_wall_at=wall,
            )
        )
        count += 1
    return count


def httpx_sender(client: httpx.Client | None = None) -> Sender:
    """The production :data:`Sender`: one pooled httpx client."""
    http = client or httpx.Client()

    def send(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> int:
        return http.post(url, content=body, headers=dict(headers), timeout=timeout_s).status_code

    return send


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, capped; after ``max_attempts`` the row is ``dead``
    (kept, listed, and re-deliverable through the API: still not lost)."""

    base_s: float = 2.0
    cap_s: float = 3600.0
    max_attempts: int = 50
    jitter: float = 0.2

    def delay(self, attempts: int) -> float:
        raw = min(self.cap_s, self.base_s * (2 ** max(attempts - 1, 0)))
        return float(raw * (1.0 + random.uniform(-self.jitter, self.jitter)))


class WebhookDispatcher:
    """Delivers due outbox rows; call :meth:`deliver_due` or run :meth:`start` in a thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        sender: Sender | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = utcnow,
        timeout_s: float = 10.0,
        lease_s: float = 60.0,
    ) -> None:
        self._sessions = sessions
        self._send = sender or httpx_sender()
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._timeout_s = timeout_s
        self._lease = timedelta(seconds=lease_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed_attempts = 0

    def deliver_due(self, limit: int = 500) -> int:
        """One pass over the pending rows, oldest first; returns how many were delivered.

        Events reach each subscriber in the order they happened: a subscription's
        rows are tried oldest first, and a row that is not due yet, claimed by another
        worker, or just failed holds back that subscription's later rows.
        """
        now = self._clock()
        with self._sessions() as session:
            rows = session.execute(
                select(
                    WebhookOutboxRow.id,
                    WebhookOutboxRow.subscription_id,
                    WebhookOutboxRow.next_attempt_wall_at,
                    WebhookOutboxRow.claimed_until_wall_at,
                )
                .where(WebhookOutboxRow.status == "pending")
                .order_by(WebhookOutboxRow.id)
                .limit(limit)
            ).all()
        delivered = 0
        held: set[str] = set()
        for outbox_id, subscription_id, due, claimed in rows:
            if subscription_id in held:
                continue
            busy = claimed is not None and aware(claimed) >= now
            if aware(due) > now or busy or not self._claim(outbox_id, now):
                held.add(subscription_id)
                continue
            if self._attempt(outbox_id):
                delivered += 1
            else:
                held.add(subscription_id)
        return delivered

    def _claim(self, outbox_id: int, now: datetime) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(
                update(WebhookOutboxRow)
                .where(
                    WebhookOutboxRow.id == outbox_id,
                    WebhookOutboxRow.status == "pending",
                    or_(
                        WebhookOutboxRow.claimed_until_wall_at.is_(None),
                        WebhookOutboxRow.claimed_until_wall_at < now,
                    ),
                )
                .values(claimed_until_wall_at=now + self._lease)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _attempt(self, outbox_id: int) -> int:
        with self._sessions() as session:
            row = session.get(WebhookOutboxRow, outbox_id)
            sub = session.get(WebhookSubscriptionRow, row.subscription_id) if row else None
            if row is None or sub is None:
                return 0
            url, secret, body = sub.url, sub.secret, row.body.encode()
            event_type, delivery_id, attempts = row.event_type, row.event_id, row.attempts
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event_type,
            DELIVERY_HEADER: delivery_id,
            SIGNATURE_HEADER: sign(body, secret),
            "User-Agent": "housecall-webhooks/1",
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = self._send(url, body, headers, self._timeout_s)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except Exception as err:  # any network failure is a failed attempt, never a crash
            error = f"{type(err).__name__}: {err}"[:500]
        elapsed_ms = (time.perf_counter() - started) * 1000
        now = self._clock()
        attempt = attempts + 1
        with self._sessions.begin() as session:
            session.add(
                WebhookAttemptRow(
                    outbox_id=outbox_id,
                    attempt=attempt,
                    wall_at=now,
                    status_code=status,
                    error=error,
                    duration_ms=elapsed_ms,
                )
            )
            values: dict[str, Any] = {"attempts": attempt, "claimed_until_wall_at": None}
            if error is None:
                values.update(status="delivered", delivered_wall_at=now, last_error=None)
            else:
                values["last_error"] = error
                if attempt >= self._backoff.max_attempts:
                    values["status"] = "dead"
                else:
                    delay = timedelta(seconds=self._backoff.delay(attempt))
                    values["next_attempt_wall_at"] = now + delay
            session.execute(
                update(WebhookOutboxRow).where(WebhookOutboxRow.id == outbox_id).values(**values)
            )
        if error is None:
            self.delivered += 1
            return 1
        self.failed_attempts += 1
        log.info("webhook %s to %s failed (attempt %d): %s", delivery_id, url, attempt, error)
        return 0

    def next_due_in(self) -> float | None:
        """Seconds until the earliest pending row is due (None: nothing pending)."""
        with self._sessions() as session:
            first = session.scalar(
                select(WebhookOutboxRow.next_attempt_wall_at)
                .where(WebhookOutboxRow.status == "pending")
                .order_by(WebhookOutboxRow.next_attempt_wall_at)
                .limit(1)
            )
        if first is None:
            return None
        return max(0.0, (aware(first) - self._clock()).total_seconds())

    # -- background thread ----------------------------------------------------------

    def start(self, poll_s: float = 0.5) -> None:
        """Deliver in a daemon thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(poll_s,), name="webhooks", daemon=True
        )
        self._thread.start()

    def _run(self, poll_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("webhook delivery pass failed")
            self._stop.wait(poll_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
