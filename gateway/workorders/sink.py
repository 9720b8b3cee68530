"""The pipeline's signal sink: every accepted message's signals, at the device's time.

``handle(device, ts, signals)`` is called for every accepted telemetry/event message
(signals are usually empty), so the service follows DEVICE time, which every
telemetry-driven decision uses:

1. each :class:`~detectors.api.Finding` goes to the self-fix notice first when the
   customer can fix it (:mod:`.self_fix`), else (or when that says "order now") opens
   or updates the order (:mod:`.opening`);
2. each :class:`~detectors.api.Recovery` marks the evidence normal on an order being
   verified (:mod:`.verification`) and closes a pending notice as self-fixed;
3. then the device's clock ticks: a notice whose grace ran out opens its order, and a
   repair under verification counts time or cycles (:mod:`.watches` keeps both timers
   in memory, so a message without signals costs a dict lookup).

It runs on the pipeline's one thread; people's moves arrive on API threads through
:mod:`.transitions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from detectors.api import Finding, Recovery, Signal
from gateway.workorders.journal import Journal, OrderChange
from gateway.workorders.opening import Opening
from gateway.workorders.self_fix import SelfFix
from gateway.workorders.verification import Verification
from gateway.workorders.watches import Watches


class DeviceRef(Protocol):
    """What the sink needs of the pipeline's device info: just its id."""

    @property
    def device_id(self) -> str: ...


class Sink:
    def __init__(
        self,
        journal: Journal,
        watches: Watches,
        opening: Opening,
        self_fix: SelfFix,
        verification: Verification,
    ) -> None:
        self._journal = journal
        self._watches = watches
        self._opening = opening
        self._self_fix = self_fix
        self._verification = verification

    def handle(self, device: DeviceRef, ts: datetime, signals: Sequence[Signal]) -> None:
        """Pipeline hook: every accepted message of ``device`` at device time ``ts``."""
        for signal in signals:
            if isinstance(signal, Finding):
                self.on_finding(signal)
            elif isinstance(signal, Recovery):
                self.on_recovery(signal)
        self.tick(device.device_id, ts)

    def tick(self, device_id: str, ts: datetime) -> None:
        """Advance the device's clock: expire grace periods, count verification time."""
        if self._watches.stale():
            self._watches.reload()
        graces, verifying = self._watches.of(device_id)
        for fault, until in graces.items():
            if ts >= until:
                self._self_fix.escalate(device_id, fault, ts)
        for state in verifying:
            self._verification.advance(device_id, state, ts)

    def on_finding(self, finding: Finding) -> OrderChange:
        if self._self_fix.applies(finding):
            change = self._self_fix.first(finding)
            if change is not None:
                return self._journal.count(change)
        return self._journal.count(self._opening.open_or_update(finding))

    def on_recovery(self, recovery: Recovery) -> None:
        """Telemetry is normal again: a repair is taking, or a self-fix notice worked."""
        self._verification.recovered(recovery)
        self._self_fix.recovered(recovery)
