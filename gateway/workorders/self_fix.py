"""Customer self-fix first: a notice, a grace period on device time, then an order.

Faults a customer can fix safely (contract ``CUSTOMER_SELF_FIX``: a dirty filter, a
blocked drain...) first get a :class:`~edge.contract.Notice` through the
:class:`~gateway.workorders.notices.NoticePublisher`. An order opens only if the
detectors' :class:`~detectors.api.Recovery` does not arrive within ``self_fix_grace``
of device time (the sink calls :meth:`SelfFix.escalate` when it runs out), or the same
fault comes back within ``self_fix_cooldown`` of a fix that "worked". Severities in
``self_fix_skip`` never wait.

A notice the broker did not take stays unpublished in its row; :meth:`SelfFix.resend`
(the service loop, every few seconds) tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from detectors.api import Finding, Recovery
from edge.contract import CUSTOMER_SELF_FIX, Alternative, Evidence, Fault, Kind, Notice, Severity
from gateway.workorders.context import Context
from gateway.workorders.events import NOTICE, SELF_FIXED
from gateway.workorders.ids import aware
from gateway.workorders.journal import Journal, OrderChange
from gateway.workorders.opening import Opening
from gateway.workorders.tables import ACTIVE_STATUSES, SelfFixNoticeRow, WorkOrderRow
from gateway.workorders.watches import Watches

log = logging.getLogger(__name__)


class SelfFix:
    def __init__(self, ctx: Context, journal: Journal, watches: Watches, opening: Opening) -> None:
        self._ctx = ctx
        self._journal = journal
        self._watches = watches
        self._opening = opening

    def applies(self, finding: Finding) -> bool:
        """The customer can fix it and it is not too urgent to wait for them."""
        return (
            Kind(finding.kind),
            Fault(finding.fault),
        ) in CUSTOMER_SELF_FIX and finding.severity not in self._ctx.config.self_fix_skip

    def first(self, finding: Finding) -> OrderChange | None:
        """Notice first; None means "open or update an order now" (the caller does)."""
        device_id, fault = finding.device_id, str(finding.fault)
        payload = _finding_json(finding)
        config = self._ctx.config
        with self._ctx.sessions.begin() as session:
            active = session.scalar(
                select(WorkOrderRow.id).where(
                    WorkOrderRow.device_id == device_id,
                    WorkOrderRow.fault == fault,
                    WorkOrderRow.status.in_(ACTIVE_STATUSES),
                )
            )
            if active is not None:
                return None
            pending = session.scalars(_pending(device_id, fault)).first()
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
                    SelfFixNoticeRow.closed_at >= finding.observed_at - config.self_fix_cooldown,
                )
            )
            if recent is not None:
                return None  # the customer's fix did not hold: send a technician
        action, text = CUSTOMER_SELF_FIX[(Kind(finding.kind), Fault(finding.fault))]
        try:
            with self._ctx.sessions.begin() as session:
                row = SelfFixNoticeRow(
                    device_id=device_id,
                    fault=fault,
                    status="pending",
                    notice_ts=finding.observed_at,
                    grace_until=finding.observed_at + config.self_fix_grace,
                    action=action,
                    finding=payload,
                    created_wall_at=self._ctx.clock(),
                )
                session.add(row)
                session.flush()
                notice_id = row.id
        except IntegrityError:  # another worker sent it first
            return OrderChange("noticed")
        self._watches.start_grace(device_id, fault, finding.observed_at + config.self_fix_grace)
        notice = Notice(
            device_id=device_id,
            ts=finding.observed_at,
            fault=Fault(fault),
            action=action,
            text=text,
        )
        self._send(notice_id, notice)
        self._journal.emit(
            NOTICE, {"device_id": device_id, "fault": fault, "ts": finding.observed_at}
        )
        return OrderChange("noticed", notice_id=notice_id)

    def recovered(self, recovery: Recovery) -> None:
        """The evidence is back to normal: a pending notice worked (the customer fixed it)."""
        with self._ctx.sessions.begin() as session:
            row = session.scalars(_pending(recovery.device_id, recovery.fault)).first()
            if row is None:
                return
            row.status = "recovered"
            row.closed_at = recovery.observed_at
        self._watches.forget_grace(recovery.device_id, recovery.fault)
        self._journal.count(OrderChange("self_fixed", notice_id=row.id))
        self._journal.emit(SELF_FIXED, {"device_id": recovery.device_id, "fault": recovery.fault})

    def escalate(self, device_id: str, fault: str, ts: datetime) -> None:
        """Grace period over (device time) and no recovery: open the order now, at ``ts``."""
        with self._ctx.sessions.begin() as session:
            row = session.scalars(_pending(device_id, fault)).first()
            if row is None:
                self._watches.forget_grace(device_id, fault)
                return
            finding = _finding_from_json(row.finding)
            notice_id, noticed_at = row.id, aware(row.notice_ts)
        change = self._opening.open_or_update(finding, opened_at=ts)
        with self._ctx.sessions.begin() as session:
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
        self._watches.forget_grace(device_id, fault)
        self._journal.count(OrderChange("escalated", change.order_id, notice_id))

    def resend(self) -> int:
        """Publish pending notices the broker has not taken yet; returns how many went out."""
        if self._ctx.publish_notice is None:
            return 0
        with self._ctx.sessions() as session:
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
            sent += self._send(row.id, notice)
        return sent

    def _send(self, notice_id: int, notice: Notice) -> bool:
        """Hand the notice to the publisher; a failure is counted and retried later."""
        publish = self._ctx.publish_notice
        if publish is None:
            return False
        try:
            publish(notice)
        except Exception:  # broker away: the row stays unpublished, resend retries
            log.warning("notice %s for %s not published yet", notice_id, notice.device_id)
            self._journal.count(OrderChange("notice_publish_failed", notice_id=notice_id))
            return False
        with self._ctx.sessions.begin() as session:
            session.execute(
                update(SelfFixNoticeRow)
                .where(SelfFixNoticeRow.id == notice_id)
                .values(published_wall_at=self._ctx.clock())
            )
        return True


def _pending(device_id: str, fault: str) -> Any:
    """The device's pending notice for the fault (at most one)."""
    return select(SelfFixNoticeRow).where(
        SelfFixNoticeRow.device_id == device_id,
        SelfFixNoticeRow.fault == fault,
        SelfFixNoticeRow.status == "pending",
    )


def _finding_json(finding: Finding) -> dict[str, Any]:
    """The finding kept with the notice, to open the order from if the grace runs out."""
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
