"""What the detectors promise the gateway: signals out, outcomes in. No I/O, no clocks.

The pipeline feeds every accepted message to a :class:`FleetDetector` and hands
the signals it returns to the work-order service. Times in signals are always
device (event) time, taken from the message's ``ts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from edge.contract import Alternative, Birth, EventBase, Evidence, Fault, Kind, Severity, Telemetry


@dataclass(frozen=True, slots=True)
class Finding:
    """Persistent evidence that ``fault`` is developing on ``device_id``."""

    device_id: str
    kind: Kind
    fault: Fault
    confidence: float
    severity: Severity
    observed_at: datetime
    evidence: tuple[Evidence, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    predicted_failure_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recovery:
    """The evidence for ``fault`` on ``device_id`` has been back to normal since ``normal_since``.

    The work-order service uses it for the customer self-fix grace period and for
    fix verification after a repair.
    """

    device_id: str
    fault: Fault
    observed_at: datetime
    normal_since: datetime


Signal = Finding | Recovery


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a technician found: the confirmed root cause, or ``None`` for a false alarm."""

    device_id: str
    predicted: Fault
    actual: Fault | None
    evidence: tuple[Evidence, ...] = field(default=())


class FleetDetector(Protocol):
    """Per-device detector state for a whole fleet, fed one message at a time."""

    def on_birth(self, birth: Birth) -> None:
        """A device (re)announced itself: kind, model, install date."""

    def on_telemetry(self, telemetry: Telemetry) -> Sequence[Signal]:
        """Score and learn one sample; return what changed (usually nothing)."""

    def on_event(self, event: EventBase) -> Sequence[Signal]:
        """Score and learn one event (washer ``cycle_end``, ``error``...)."""

    def learn_from_outcome(self, outcome: Outcome) -> None:
        """Feed a technician-confirmed root cause back into diagnosis."""

    def snapshot(self, device_id: str) -> bytes | None:
        """The device's state, serialised for a checkpoint (None if unknown)."""

    def restore(self, device_id: str, state: bytes) -> None:
        """Load a device's state from :meth:`snapshot` output."""


class NullDetector:
    """Detects nothing; the pipeline's default until detectors are wired in."""

    def on_birth(self, birth: Birth) -> None:
        return None

    def on_telemetry(self, telemetry: Telemetry) -> Sequence[Signal]:
        return ()

    def on_event(self, event: EventBase) -> Sequence[Signal]:
        return ()

    def learn_from_outcome(self, outcome: Outcome) -> None:
        return None

    def snapshot(self, device_id: str) -> bytes | None:
        return None

    def restore(self, device_id: str, state: bytes) -> None:
        return None


def feed(detector: FleetDetector, message: object) -> Sequence[Signal]:
    """Hand one parsed contract message to the detector method that takes it.

    For callers that replay a stream outside the pipeline (journal replay, learning a
    baseline): a birth, telemetry or an event; anything else (status) is not for them.
    """
    if isinstance(message, Birth):
        detector.on_birth(message)
        return ()
    if isinstance(message, Telemetry):
        return detector.on_telemetry(message)
    if isinstance(message, EventBase):
        return detector.on_event(message)
    return ()
