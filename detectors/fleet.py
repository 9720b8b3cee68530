"""The fleet detector: every device's state, messages routed to its kind, checkpoints.

:class:`HousecallDetector` implements :class:`detectors.api.FleetDetector`. It keeps one
:class:`~detectors.state.DeviceState` per device and hands each sample or event to the
device's kind (:mod:`detectors.kinds`: :mod:`detectors.ac`, :mod:`detectors.washer`),
which turns samples into windows of derived signals and runs its direct rules for sudden
faults. The kinds hand finished windows to the shared :class:`~detectors.judging.Judge`,
which compares them with the device's cohort, scores the residual pattern against every
fault signature and opens a :class:`~detectors.api.Finding` once the evidence persists
(see :mod:`detectors.judging`). The imports run one way: ``fleet -> kinds -> judging``.

Only event time (``ts``) is used. A sample older than the device's newest one (late,
replayed out of order, duplicated) is counted in ``late_samples`` and skipped.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.api import Outcome, Signal
from detectors.baseline import CohortBaseline, UnitSpread
from detectors.diagnosis import Diagnoser, pattern_from_evidence
from detectors.errors import error_fault
from detectors.judging import Judge, KindFeatures, KindTuning, level_only
from detectors.kinds import KINDS, LAYOUTS
from detectors.signatures import SIGNALS
from detectors.state import DeviceState
from edge.contract import Birth, ErrorEvent, EventBase, Evidence, Kind, Readings, Telemetry

__all__ = ["LAYOUTS", "DetectorConfig", "HousecallDetector"]


@dataclass(frozen=True)
class DetectorConfig:
    """The thresholds of every kind; by default each kind's shipped ``TUNING``."""

    tuning: dict[Kind, KindTuning] = field(
        default_factory=lambda: {kind: appliance.tuning for kind, appliance in KINDS.items()}
    )


class HousecallDetector:
    """Per-device detector state for a whole fleet (see the module docstring)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.devices: dict[str, DeviceState] = {}
        #: The fleet's shared models and the judgement of a window, used by every kind.
        self.judge = Judge(KINDS, self.config.tuning)
        self.late_samples = 0
        #: Per readings class, the kind it belongs to and that kind's feature logic.
        self._by_readings: dict[type[Readings], tuple[Kind, KindFeatures[Any, Any]]] = {
            appliance.readings: (kind, appliance.features(self.judge))
            for kind, appliance in KINDS.items()
        }
        #: Per event class a kind judges, the kind and its feature logic.
        self._by_event: dict[type[EventBase], tuple[Kind, KindFeatures[Any, Any]]] = {
            event: self._by_readings[appliance.readings]
            for appliance in KINDS.values()
            for event in appliance.events
        }

    # --- the fleet's learned models, as checkpoints and baselines see them ------------

    @property
    def cohorts(self) -> dict[tuple[str, str, str], CohortBaseline]:
        """Cohort baselines by (kind, model, regime) (a baseline import updates them)."""
        return self.judge.cohorts

    @property
    def unit_spreads(self) -> dict[Kind, UnitSpread]:
        """Per kind, how far healthy units sit from their cohorts."""
        return self.judge.unit_spreads

    @property
    def diagnosers(self) -> dict[Kind, Diagnoser]:
        """Per kind, the diagnosis sharpened by technicians' outcomes."""
        return self.judge.diagnosers

    def cohort(self, kind: Kind, model: str, regime: str) -> CohortBaseline:
        """The cohort of ``kind``/``model``/``regime`` (made empty on first use)."""
        return self.judge.cohort(kind, model, regime)

    @property
    def trace(self) -> Callable[[str, float, list[float], list[str]], None] | None:
        """Optional observer of every judged window: (device_id, ts, residual z, names)."""
        return self.judge.trace

    @trace.setter
    def trace(self, observer: Callable[[str, float, list[float], list[str]], None] | None) -> None:
        self.judge.trace = observer

    # --- FleetDetector protocol -------------------------------------------------------

    def on_birth(self, birth: Birth) -> None:
        state = self.devices.get(birth.device_id)
        if state is None or state.kind != birth.kind.value:
            self.devices[birth.device_id] = DeviceState.new(
                birth.device_id, birth.kind.value, birth.model, LAYOUTS[birth.kind.value]
            )
        else:
            state.model = birth.model

    def on_telemetry(self, telemetry: Telemetry) -> Sequence[Signal]:
        readings = telemetry.readings
        kind, features = self._by_readings[type(readings)]
        state = self._state(telemetry.device_id, kind)
        ts = telemetry.ts.timestamp()
        last = state.last_ts
        if ts <= last:  # not newer than what we have: late, out of order or a duplicate
            state.late += 1
            self.late_samples += 1
            return ()
        self.judge.tick(ts)
        gap = ts - last if not math.isnan(last) else math.inf
        state.last_ts = ts
        return features.on_sample(state, readings, ts, gap)

    def on_event(self, event: EventBase) -> Sequence[Signal]:
        if isinstance(event, ErrorEvent):
            return self._on_error(event)
        routed = [route for type_, route in self._by_event.items() if isinstance(event, type_)]
        if not routed:
            return ()
        kind, features = routed[0]
        state = self._state(event.device_id, kind)
        if state.kind != kind.value:
            return ()
        ts = event.ts.timestamp()
        self.judge.tick(ts)
        signals = features.on_event(state, event, ts)
        if signals is None:  # late: older than what the device's kind has taken
            self.late_samples += 1
            return ()
        return signals

    def _on_error(self, event: ErrorEvent) -> Sequence[Signal]:
        state = self.devices.get(event.device_id)
        if state is None:
            return ()
        kind = Kind(state.kind)
        fault = error_fault(kind, event.data.text)
        if fault is None:
            return ()
        evidence = (
            Evidence(
                signal=f"error {event.data.code}: {event.data.text}",
                baseline=0.0,
                observed=1.0,
                unit="event",
            ),
        )
        finding = self.judge.hard_finding(state, kind, fault, event.ts.timestamp(), evidence)
        return (finding,) if finding is not None else ()

    def learn_from_outcome(self, outcome: Outcome) -> None:
        """Teach the diagnosis a technician's root cause (safe from any thread).

        The residual pattern is the one remembered with the finding, or, for a finding
        this detector does not remember (a restart without checkpoint), one rebuilt from
        the outcome's evidence. The diagnoser locks its own model.
        """
        state = self.devices.get(outcome.device_id)
        kind = Kind(state.kind) if state is not None else None
        pattern = self.judge.finding_patterns.get((outcome.device_id, outcome.predicted))
        if pattern is None or kind is None:
            kind, pattern = pattern_from_evidence(outcome.evidence)
            if pattern is None or kind is None:
                return
        self.judge.diagnosers[kind].learn(pattern, outcome.actual)

    def snapshot(self, device_id: str) -> bytes | None:
        state = self.devices.get(device_id)
        return state.to_bytes() if state is not None else None

    def restore(self, device_id: str, state: bytes) -> None:
        restored = DeviceState.from_bytes(state, LAYOUTS)
        if restored.device_id != device_id:
            raise ValueError(f"state belongs to {restored.device_id}, not {device_id}")
        self.devices[device_id] = restored

    # --- fleet-level checkpoint (cohorts and diagnosis are shared by all devices) ---

    def snapshot_shared(self) -> bytes:
        """Cohort models, units' spread, learned diagnosis and learning epoch, for a checkpoint."""
        judge = self.judge
        return pickle.dumps(
            (
                judge.cohorts,
                judge.unit_spreads,
                judge.diagnosers,
                judge.finding_patterns,
                judge.epoch_end,
            )
        )

    def restore_shared(self, data: bytes) -> None:
        """Load :meth:`snapshot_shared` output (trusted: our own checkpoint store).

        A checkpoint from a detector with another signal list (a signal added since) is
        refused whole, as :meth:`restore` refuses a device state of another layout: its
        cohorts would predict one signal too few and every residual after it would shift.
        So is one whose cohorts model a signal on other conditions (``level_only`` changed),
        and one whose cohorts do not count the units they learned from (``cohort_units``).
        """
        parts = pickle.loads(data)
        if len(parts) != 5:
            raise ValueError("checkpoint of an older detector (no units' spread): start afresh")
        cohorts, unit_spreads, diagnosers, finding_patterns, epoch_end = parts
        for (kind, model, regime), cohort in cohorts.items():
            if len(cohort.models) != len(SIGNALS[Kind(kind)]):
                raise ValueError(
                    f"checkpointed cohort {kind}/{model}/{regime} has {len(cohort.models)} "
                    f"signals, this detector {len(SIGNALS[Kind(kind)])}"
                )
            # A signal's regression learned on other features would predict nonsense.
            if getattr(cohort, "level_only", None) != level_only(Kind(kind)):
                raise ValueError(
                    f"checkpointed cohort {kind}/{model}/{regime} models its signals on other "
                    "conditions than this detector: start afresh"
                )
            if getattr(cohort, "units", None) is None:
                raise ValueError(
                    f"checkpointed cohort {kind}/{model}/{regime} does not know the units it "
                    "learned from: start afresh"
                )
        judge = self.judge
        judge.cohorts, judge.unit_spreads, judge.diagnosers = cohorts, unit_spreads, diagnosers
        judge.finding_patterns, judge.epoch_end = finding_patterns, epoch_end

    def _state(self, device_id: str, kind: Kind) -> DeviceState:
        state = self.devices.get(device_id)
        if state is None:  # telemetry before birth: judge it against an "unknown model" cohort
            state = DeviceState.new(device_id, kind.value, "", LAYOUTS[kind.value])
            self.devices[device_id] = state
        return state
