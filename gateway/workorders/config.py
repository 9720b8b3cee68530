"""The work-order service's tunables: self-fix grace, fix verification, dispatch, caches.

Device-time settings (grace, cooldown, verification, recovery timeout) follow the
telemetry's clock, so a fleet replayed at 1000x behaves as it would live; only
``watch_refresh_s`` is wall time (it paces a cache, not a decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ServiceConfig:
    #: Device time a customer has to act on a self-fix notice before an order opens.
    self_fix_grace: timedelta = timedelta(days=3)
    #: A fault returning this soon (device time) after a self-fix "worked" skips the notice.
    self_fix_cooldown: timedelta = timedelta(days=14)
    #: Severities too urgent to wait for the customer.
    self_fix_skip: frozenset[str] = frozenset({"critical"})
    #: Normal behaviour needed after ``resolved`` (device time; washers count cycles).
    verify_days: float = 7.0
    verify_cycles: int = 8
    #: Verification needs the detectors' Recovery (evidence back to normal) after the repair;
    #: without one within this much device time (washers: cycles) the order reopens.
    require_recovery: bool = True
    recovery_timeout: timedelta = timedelta(days=4)
    recovery_timeout_cycles: int = 6
    #: A washer telemetry gap longer than this starts a new cycle.
    washer_cycle_gap: timedelta = timedelta(minutes=20)
    auto_assign: bool = True
    #: How often (wall seconds) the in-memory watch list is re-read (other workers' changes).
    watch_refresh_s: float = 5.0
