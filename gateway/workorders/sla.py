"""Service-level deadlines by severity, on the WALL clock.

SLA clocks measure what people do (answer, travel, repair), so they run on the
wall clock from the moment the order is created in the gateway, not on device
time (a fleet replayed at 1000x would otherwise breach every SLA in seconds).
``opened_at`` (device time) stays on the order for lead-time measurement.

>>> from datetime import datetime, UTC
>>> policy = SlaPolicy()
>>> policy.due(datetime(2026, 7, 14, 8, tzinfo=UTC), "high").isoformat()
'2026-07-15T08:00:00+00:00'
>>> policy.due(datetime(2026, 7, 14, 8, tzinfo=UTC), "low",
...            predicted_failure_at=datetime(2026, 7, 14, 20, tzinfo=UTC)).isoformat()
'2026-07-14T20:00:00+00:00'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edge.contract import Severity

DEFAULT_SLA_HOURS: dict[str, float] = {
    Severity.CRITICAL: 8.0,
    Severity.HIGH: 24.0,
    Severity.MEDIUM: 72.0,
    Severity.LOW: 168.0,
}

SEVERITY_RANK: dict[str, int] = {
    Severity.LOW: 0,
    Severity.MEDIUM: 1,
    Severity.HIGH: 2,
    Severity.CRITICAL: 3,
}

#: Statuses in which the SLA clock is stopped (the technician has fixed it, or it is gone).
SLA_STOPPED: frozenset[str] = frozenset(
    {"resolved", "verified", "closed", "cancelled", "false_alarm"}
)


def higher_severity(a: str, b: str) -> str:
    """The more urgent of two severities (a finding may raise an order's, never lower it)."""
    return a if SEVERITY_RANK.get(a, 0) >= SEVERITY_RANK.get(b, 0) else b


@dataclass(frozen=True)
class SlaPolicy:
    hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SLA_HOURS))

    def due(
        self, created_wall_at: datetime, severity: str, predicted_failure_at: datetime | None = None
    ) -> datetime:
        """Creation + the severity's hours, or the predicted failure if that comes sooner.

        The prediction only counts when it lies ahead of the wall clock: on replayed or
        accelerated data it is long past, and people cannot act in the past.
        """
        due = created_wall_at + timedelta(hours=self.hours.get(severity, 72.0))
        if predicted_failure_at is not None and created_wall_at < predicted_failure_at < due:
            return predicted_failure_at
        return due
