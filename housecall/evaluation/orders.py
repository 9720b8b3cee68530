"""The work-order counting the evaluation needs: at most one open order per (device, fault).

This mirrors the rule of the work-order service (contract section 4) without its
database: a :class:`~detectors.api.Finding` opens an order unless one is already open
for that (device, fault); a :class:`~detectors.api.Recovery` closes it (the customer
fixed it, or it was a passing anomaly), so a later finding opens a new order. Every
order ever opened is kept for scoring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from detectors.api import Finding, Recovery, Signal
from edge.contract import Fault


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

    def __init__(self) -> None:
        self.orders: list[OpenedOrder] = []
        self._open: dict[tuple[str, Fault], int] = {}
        self.findings = 0
        self.recoveries = 0

    def handle(self, signals: Iterable[Signal]) -> None:
        for signal in signals:
            if isinstance(signal, Finding):
                self.findings += 1
                key = (signal.device_id, signal.fault)
                if key in self._open:
                    continue
                self._open[key] = len(self.orders)
                self.orders.append(
                    OpenedOrder(
                        signal.device_id,
                        signal.fault,
                        signal.observed_at,
                        signal.confidence,
                        predicted_failure_at=signal.predicted_failure_at,
                    )
                )
            elif isinstance(signal, Recovery):
                self.recoveries += 1
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
