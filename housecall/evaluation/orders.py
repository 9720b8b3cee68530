"""The work-order counting the evaluation needs: at most one open order per (device, fault).

This mirrors the rules of the work-order service (``gateway.workorders.service``)
without its database: a :class:`~detectors.api.Finding` opens an order unless one is
already open for that (device, fault); a :class:`~detectors.api.Recovery` closes it
(the customer fixed it, or it was a passing anomaly), so a later finding opens a new
order. A fault the customer can fix (contract ``CUSTOMER_SELF_FIX``: dirty filter,
drain filter) first gets a customer notice and becomes an order only if its evidence
has not recovered after the service's grace period of device time (3 days), unless
the finding is critical. Every order ever opened is kept for scoring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from detectors.api import Finding, Recovery, Signal
from edge.contract import CUSTOMER_SELF_FIX, Fault, Severity

#: The work-order service's default ``ServiceConfig.self_fix_grace``.
SELF_FIX_GRACE = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class OpenedOrder:
    device_id: str
    fault: Fault
    opened_at: datetime
    confidence: float
    closed_at: datetime | None = None
    predicted_failure_at: datetime | None = None


class OrderBook:
    """Orders opened from detector signals, one open per (device, fault)."""

    def __init__(self, self_fix_grace: timedelta = SELF_FIX_GRACE) -> None:
        self.orders: list[OpenedOrder] = []
        self.self_fix_grace = self_fix_grace
        self._open: dict[tuple[str, Fault], int] = {}
        self._notified: dict[str, dict[Fault, Finding]] = {}
        self.findings = 0
        self.recoveries = 0
        self.notices = 0

    def tick(self, device_id: str, ts: datetime) -> None:
        """Device time moved on: open self-fix orders whose grace period has run out."""
        pending = self._notified.get(device_id)
        if not pending:
            return
        for fault, finding in list(pending.items()):
            if ts >= finding.observed_at + self.self_fix_grace:
                del pending[fault]
                self._open_order(finding, ts)

    def _open_order(self, finding: Finding, at: datetime) -> None:
        self._open[(finding.device_id, finding.fault)] = len(self.orders)
        self.orders.append(
            OpenedOrder(
                finding.device_id,
                finding.fault,
                at,
                finding.confidence,
                predicted_failure_at=finding.predicted_failure_at,
            )
        )

    def handle(self, signals: Iterable[Signal]) -> None:
        for signal in signals:
            if isinstance(signal, Finding):
                self.findings += 1
                key = (signal.device_id, signal.fault)
                pending = self._notified.setdefault(signal.device_id, {})
                if key in self._open or signal.fault in pending:
                    continue
                if (signal.kind, signal.fault) in CUSTOMER_SELF_FIX and (
                    signal.severity is not Severity.CRITICAL
                ):
                    self.notices += 1
                    pending[signal.fault] = signal
                    continue
                self._open_order(signal, signal.observed_at)
            elif isinstance(signal, Recovery):
                self.recoveries += 1
                self._notified.get(signal.device_id, {}).pop(signal.fault, None)
                index = self._open.pop((signal.device_id, signal.fault), None)
                if index is not None:
                    order = self.orders[index]
                    self.orders[index] = OpenedOrder(
                        order.device_id,
                        order.fault,
                        order.opened_at,
                        order.confidence,
                        signal.observed_at,
                        order.predicted_failure_at,
                    )
