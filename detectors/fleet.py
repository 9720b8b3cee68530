"""The fleet detector: per-device state, cohort baselines, persistence, diagnosis.

:class:`HousecallDetector` implements :class:`detectors.api.FleetDetector`. For every
device it turns samples into derived signals (:mod:`detectors.ac`, :mod:`detectors.washer`),
compares each signal with what the device's cohort (same kind, model and regime) shows
under the same conditions plus the unit's own learned offset, standardises the residual
with the cohort's spread, and smooths it per device. The smoothed residual pattern is
scored against every fault signature; a fault whose score stays above ``open_score`` for
``persist`` windows (AC: ten-minute steady-state windows; washer: cycles), spanning at
least ``persist_s`` of device time (AC: two hours), and is the top diagnosis becomes a
:class:`~detectors.api.Finding`. Sudden faults (a dead fan, an open heater element, a
stuck thermistor) are caught by direct per-sample rules instead, well
within half an hour of device time. An open fault whose evidence stays normal for
``recover_s`` seconds and ``recover_windows`` windows yields a :class:`Recovery`.

Only event time (``ts``) is used. A sample older than the device's newest one (late,
replayed out of order, duplicated) is counted in ``late_samples`` and skipped.
"""

from __future__ import annotations

import math
import pickle
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from detectors import ac, washer
from detectors.api import Finding, Outcome, Recovery, Signal
from detectors.baseline import CohortBaseline, Conditions, UnitSpread
from detectors.diagnosis import Diagnoser, fault_scores
from detectors.errors import error_fault
from detectors.signatures import (
    HARD_SCORE,
    PATTERNS,
    SIGNALS,
    ProbeResponse,
    SignalSpec,
    censored,
)
from detectors.state import DeviceState, Layout
from edge.contract import (
    AcReadings,
    Alternative,
    Birth,
    CycleEndEvent,
    ErrorEvent,
    EventBase,
    Evidence,
    Fault,
    Kind,
    Severity,
    Telemetry,
    WasherReadings,
)

NAN = float("nan")
EPOCH_S = 3600.0
#: The first scalars of every kind's layout, so their slots are the same for all kinds.
COMMON_SCALARS = ("last_ts", "windows", "late", "faults_seen", "baseline", "baseline_wait_ts")
#: Slot of the bit set of faults a device has had findings for.
FAULTS_SEEN = COMMON_SCALARS.index("faults_seen")
#: Extra signature score a second, different fault needs on the same unit.
ANOTHER_FAULT_MARGIN = 1.5
#: Slot of the baseline a device is judged against: 0 not chosen yet, 1 its model's
#: cohort, 2 the pooled cohort of every model of its kind.
BASELINE = COMMON_SCALARS.index("baseline")
#: Slot of the device time a device started waiting for its model's cohort.
BASELINE_WAIT = COMMON_SCALARS.index("baseline_wait_ts")
OWN_COHORT, POOLED_COHORT = 1.0, 2.0
#: Model name of the pooled cohort. A real model called "*" would share it: harmless, its
#: units would simply be judged against every model of their kind from the start.
POOLED = "*"


@dataclass(frozen=True)
class KindTuning:
    """Thresholds for one kind; windows are steady AC windows or washer cycles."""

    warm_windows: int  # windows to learn a unit's own offset before judging it
    cohort_min: int  # healthy windows a cohort needs before its residuals mean anything
    z_alpha: float  # EW weight of a new window in the device's smoothed residual
    open_score: float  # signature score (z units) that counts as evidence
    persist: int  # windows of evidence (of the last ``persist_of``) before a finding opens
    recover_score: float  # below this the fault's evidence is "normal"
    recover_windows: int
    recover_s: float
    learn_every: int  # a healthy device teaches its cohort every n-th window
    offset_alpha: float  # after warm-up, how fast a healthy unit's offset follows it
    fail_score: float  # score at which the customer is expected to notice
    #: A signal whose smoothed residual is beyond this (z units) keeps its offset: a fault
    #: that develops over weeks must not be learned into the unit's "normal" piecemeal.
    offset_guard_z: float = 1.0
    #: Device time a unit waits for its model's cohort to learn before it is judged against
    #: the pooled cohort of its kind instead (a model with a handful of units in the field).
    pooled_after_s: float = 4 * 86400.0
    #: Units a cohort must have learned from before its residuals mean anything. The
    #: windows ``cohort_min`` asks for may all come from one or two units: an AC model's
    #: heating cohort in June learns from the few units run on a cold night, expects what
    #: those units do, and judges the next unit by how it differs from them (seed 2002:
    #: two healthy AUR-S35-INV units sat 4-5 sigma out on every signal, in opposite
    #: directions, in their first heating week, and got sensor-fault orders; the cohort had
    #: learned 811 windows from 4 units). Eight, as ``early_units`` asks for eight units
    #: before their offsets' spread is trusted. A model with fewer units in the field is
    #: judged against the pooled cohort (``pooled_after_s``).
    cohort_units: int = 1
    #: ``persist`` is counted over this many latest windows (default: in a row). A washer
    #: shows a fault once per cycle, days apart, and one cycle with a light, well-balanced
    #: load must not start the count over.
    persist_of: int = 0
    #: Device time the evidence must span (from its first window) before a finding opens.
    #: A developing fault shows for hours on end; a window left open or an evening of odd
    #: use moves an AC's residuals for an hour (a healthy unit of seed 502 held a
    #: compressor-wear pattern for the 6 windows of ``persist``, 72 minutes, and got an order).
    persist_s: float = 0.0
    #: Units whose warm-up of a signal must have ended before a unit still learning its
    #: offset of that signal is judged on it (against the spread of their offsets; see
    #: ``score_window``). 0: a unit is judged on a signal only once its warm-up has ended.
    early_units: int = 8
    #: Teach the cohort a warmed-up unit's readings with its own offset taken out. Units
    #: sit apart by far more than a fault moves them early (a washer's mains pressure sets
    #: its fill time within +-20%), and units favour programs and loads unevenly: fed raw
    #: readings, a young cohort's regression credits a program or the load with the
    #: offsets of the units that happen to use it, and takes the credit back as units join,
    #: leaving offsets learned against it stale by several sigma (healthy washers of seeds
    #: 1701-1703 and 9002-9003 read 2 sigma long on fill time for weeks: false inlet-valve
    #: orders). Without its offset, a unit teaches only how its readings move with the
    #: conditions; units still in warm-up keep the cohort's level anchored to the fleet's.
    teach_without_offset: bool = False

    def __post_init__(self) -> None:
        if self.persist_of == 0:
            object.__setattr__(self, "persist_of", self.persist)
        if not 1 <= self.persist <= self.persist_of <= 50:
            raise ValueError("need 1 <= persist <= persist_of <= 50")


@dataclass(frozen=True)
class DetectorConfig:
    tuning: dict[Kind, KindTuning] = field(
        default_factory=lambda: {
            Kind.AC: KindTuning(
                warm_windows=24,
                cohort_min=300,
                z_alpha=0.08,
                open_score=1.8,
                persist=6,
                recover_score=1.0,
                recover_windows=12,
                recover_s=12 * 3600.0,
                learn_every=3,
                offset_alpha=0.002,
                fail_score=8.0,
                pooled_after_s=4 * 86400.0,
                cohort_units=8,
                persist_s=2 * 3600.0,
            ),
            Kind.WASHER: KindTuning(
                warm_windows=5,
                cohort_min=30,
                z_alpha=0.5,
                open_score=2.0,
                persist=2,
                recover_score=1.0,
                recover_windows=3,
                recover_s=24 * 3600.0,
                learn_every=1,
                offset_alpha=0.02,
                teach_without_offset=True,
                fail_score=8.0,
                pooled_after_s=7 * 86400.0,
                persist_of=3,
            ),
        }
    )


LAYOUTS: dict[str, Layout] = {
    Kind.AC.value: Layout(
        (*COMMON_SCALARS, *ac.SCALARS),
        n_signals=len(SIGNALS[Kind.AC]),
        n_faults=len(PATTERNS[Kind.AC]),
        buffer=ac.BUFFER,
    ),
    Kind.WASHER.value: Layout(
        (*COMMON_SCALARS, *washer.SCALARS),
        n_signals=len(SIGNALS[Kind.WASHER]),
        n_faults=len(PATTERNS[Kind.WASHER]),
    ),
}
FAULT_ORDER: dict[Kind, tuple[Fault, ...]] = {kind: tuple(PATTERNS[kind]) for kind in PATTERNS}


def _level_only(kind: Kind) -> frozenset[int]:
    """The signals of ``kind`` whose cohorts learn a level alone (``SignalSpec.level_only``)."""
    return frozenset(i for i, spec in enumerate(SIGNALS[kind]) if spec.level_only)


def _natural(spec: SignalSpec, value: float) -> float:
    """A signal's value in its own unit (log-modelled signals are shown de-logged)."""
    return math.exp(value) if spec.log else value


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def probe_response(
    cohort: CohortBaseline,
    x_external: Conditions,
    expected: list[float],
    room_probe: tuple[Conditions, dict[int, float]] | None,
) -> ProbeResponse | None:
    """The z change per kelvin of room-probe error: its own signals' less the expectation's.

    ``expected`` is the cohort's expectation under the conditions as read; ``room_probe``
    the conditions as they would read were the probe 1 K high, and the change of the
    signals built from the reading (``signatures.ROOM_PROBE``).
    """
    if room_probe is None:
        return None
    x_shifted, direct = room_probe
    shifted = cohort.predict(x_shifted, x_external)
    response = [
        (direct.get(i, 0.0) - (shifted[i] - expected[i])) / cohort.scale(i)
        for i in range(len(expected))
    ]
    return ProbeResponse(response, frozenset(direct))


class HousecallDetector:
    """Per-device detector state for a whole fleet (see the module docstring)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.devices: dict[str, DeviceState] = {}
        self.cohorts: dict[tuple[str, str, str], CohortBaseline] = {}
        #: Per kind, how far healthy units sit from their cohorts (judges new units).
        self.unit_spreads = {
            kind: UnitSpread(len(SIGNALS[kind]), self.config.tuning[kind].early_units)
            for kind in Kind
        }
        self.diagnosers = {kind: Diagnoser(kind) for kind in Kind}
        #: Residual pattern behind each finding, kept for learn_from_outcome.
        self.finding_patterns: dict[tuple[str, Fault], list[float]] = {}
        self.epoch_end = NAN
        self.late_samples = 0
        #: Optional observer of every judged window: (device_id, ts, residual z, names).
        self.trace: Callable[[str, float, list[float], list[str]], None] | None = None
        self.ac = ac.AcFeatures(self)
        self.washer = washer.WasherFeatures(self)

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
        kind = Kind.WASHER if isinstance(readings, WasherReadings) else Kind.AC
        state = self._state(telemetry.device_id, kind)
        ts = telemetry.ts.timestamp()
        v = state.v
        if ts <= v[0]:  # not newer than what we have: late, out of order or a duplicate
            v[2] += 1
            self.late_samples += 1
            return ()
        self._tick(ts)
        gap = ts - v[0] if not math.isnan(v[0]) else math.inf
        v[0] = ts
        if isinstance(readings, AcReadings):
            return self.ac.on_sample(state, readings, ts, gap)
        return self.washer.on_sample(state, readings, ts, gap)

    def on_event(self, event: EventBase) -> Sequence[Signal]:
        if isinstance(event, ErrorEvent):
            return self._on_error(event)
        if not isinstance(event, CycleEndEvent):
            return ()
        state = self._state(event.device_id, Kind.WASHER)
        if state.kind != Kind.WASHER.value:
            return ()
        ts = event.ts.timestamp()
        self._tick(ts)
        return self.washer.on_cycle_end(state, event, ts)

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
        finding = self.hard_finding(state, kind, fault, event.ts.timestamp(), evidence)
        return (finding,) if finding is not None else ()

    def learn_from_outcome(self, outcome: Outcome) -> None:
        state = self.devices.get(outcome.device_id)
        kind = Kind(state.kind) if state is not None else None
        pattern = self.finding_patterns.get((outcome.device_id, outcome.predicted))
        if pattern is None or kind is None:
            kind, pattern = self._pattern_from_evidence(outcome)
            if pattern is None or kind is None:
                return
        self.diagnosers[kind].learn(pattern, outcome.actual)

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
        return pickle.dumps(
            (
                self.cohorts,
                self.unit_spreads,
                self.diagnosers,
                self.finding_patterns,
                self.epoch_end,
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
            if getattr(cohort, "level_only", None) != _level_only(Kind(kind)):
                raise ValueError(
                    f"checkpointed cohort {kind}/{model}/{regime} models its signals on other "
                    "conditions than this detector: start afresh"
                )
            if getattr(cohort, "units", None) is None:
                raise ValueError(
                    f"checkpointed cohort {kind}/{model}/{regime} does not know the units it "
                    "learned from: start afresh"
                )
        self.cohorts, self.unit_spreads, self.diagnosers = cohorts, unit_spreads, diagnosers
        self.finding_patterns, self.epoch_end = finding_patterns, epoch_end

    # --- shared machinery used by the per-kind feature modules ------------------------

    def _state(self, device_id: str, kind: Kind) -> DeviceState:
        state = self.devices.get(device_id)
        if state is None:  # telemetry before birth: judge it against an "unknown model" cohort
            state = DeviceState.new(device_id, kind.value, "", LAYOUTS[kind.value])
            self.devices[device_id] = state
        return state

    def _tick(self, ts: float) -> None:
        """Apply queued cohort learning once event time passes an hour boundary."""
        if ts >= self.epoch_end or self.epoch_end != self.epoch_end:
            for cohort in self.cohorts.values():
                cohort.apply_pending()
            self.epoch_end = (ts // EPOCH_S + 1) * EPOCH_S

    def cohort(self, kind: Kind, model: str, regime: str) -> CohortBaseline:
        key = (kind.value, model, regime)
        cohort = self.cohorts.get(key)
        if cohort is None:
            specs = SIGNALS[kind]
            external = frozenset({len(specs) - 1}) if kind is Kind.AC else frozenset()
            cohort = CohortBaseline(tuple(s.floor for s in specs), external, _level_only(kind))
            self.cohorts[key] = cohort
        return cohort

    def score_window(
        self,
        *,
        state: DeviceState,
        kind: Kind,
        regime: str,
        x: Conditions,
        x_external: Conditions,
        y: list[float],
        ts: float,
        hard: dict[Fault, float] | None = None,
        room_probe: tuple[Conditions, dict[int, float]] | None = None,
    ) -> list[Signal]:
        """Judge one steady window (AC) or cycle (washer) of a device; learn if healthy.

        ``room_probe`` (AC): the conditions ``x`` as they would be were the room probe
        reading 1 K high, and how that moves the signals built from the reading; the
        room-probe pattern is then scored by its response (``signatures.ROOM_PROBE``).
        """
        tune = self.config.tuning[kind]
        layout = LAYOUTS[kind.value]
        v = state.v
        b = layout.block
        n = layout.n_signals
        cohort, teach = self._baseline(state, kind, regime, tune, ts)
        expected = cohort.predict(x, x_external)
        # Judged only where the cohort has seen such conditions, once it is mature.
        judging = cohort.covers(x) and self._mature(cohort, tune)
        v[1] += 1
        z = [NAN] * n
        warmed = 0
        early = 0
        available = 0
        spread = self.unit_spreads[kind]
        residuals = [NAN] * n
        deviations: list[tuple[int, float]] = []
        # Floored readings are judged but never learned (see signatures.LOG_FLOOR).
        floored = [censored(spec, value) for spec, value in zip(SIGNALS[kind], y, strict=True)]
        for i in range(n):
            value = y[i]
            if (
                not judging
                or math.isnan(value)
                or math.isnan(expected[i])
                or cohort.samples[i] < tune.cohort_min
            ):
                continue
            available += 1
            residual = value - expected[i]
            residuals[i] = NAN if floored[i] else residual
            seen = v[b["offset_n"] + i]
            offset = v[b["offset"] + i]
            scale = cohort.scale(i)
            if seen < tune.warm_windows:
                if not floored[i]:
                    v[b["offset"] + i] += (residual - offset) / (seen + 1)
                    v[b["offset_n"] + i] = seen + 1
                    if seen + 1 >= tune.warm_windows:
                        spread.note(i, v[b["offset"] + i])
                between = spread.scale(i)
                if tune.early_units == 0 or not between > 0:
                    continue
                # Still learning its offset, the unit is judged against what offsets look
                # like (empirical Bayes): the mean of its first ``seen`` windows, shrunk
                # towards the cohort by how alike units are, with the uncertainty of that
                # estimate added to the scale. With nothing seen yet that is the cohort's
                # own expectation on the spread of units; by the end of the warm-up it is
                # (nearly) the unit's own. A unit used twice a week is judged from its
                # first cycle instead of after five, and a fault present from its first
                # days shows against the fleet instead of being learned as its normal.
                kappa = (scale / between) ** 2
                deviation = residual - seen / (seen + kappa) * offset
                scale *= math.sqrt(1.0 + 1.0 / (seen + kappa))
                early += 1
            else:
                warmed += 1
                deviation = residual - offset
                if not floored[i]:
                    deviations.append((i, deviation))
            zi = max(-10.0, min(10.0, deviation / scale))
            zs = v[b["z_slow"] + i] + tune.z_alpha * (zi - v[b["z_slow"] + i])
            v[b["z_slow"] + i] = zs
            v[b["z_fast"] + i] = zi
            v[b["last_y"] + i] = value
            v[b["last_expected"] + i] = value - deviation
            z[i] = zs
        signals: list[Signal] = []
        faults = FAULT_ORDER[kind]
        scores = dict.fromkeys(faults, 0.0)
        judged = available > 0 and (warmed + early) * 2 >= available
        if judged:
            scores = fault_scores(kind, z, probe_response(cohort, x_external, expected, room_probe))
        # A direct rule still holding keeps its fault from looking recovered; it never
        # opens a finding from here (the rule itself does, with its own hold time).
        hold = hard or {}
        open_any = any(v[b["open"] + k] for k in range(len(faults)))
        suspect = open_any or max(scores.values()) >= 0.6 * tune.open_score
        if self.trace is not None and judged:
            self.trace(state.device_id, ts, z, [spec.name for spec in SIGNALS[kind]])
        if judged or hard:
            signals = self._persistence(
                state=state, kind=kind, z=z, scores=scores, ts=ts, open_any=open_any, hold=hold
            )
        # Learning, protected: a suspect unit teaches neither its cohort nor its offset.
        # The cohort's spread learns from every unit but one showing a fault's evidence: a
        # faulty unit's growing residuals would widen the scale every unit is judged by, its
        # own most of all (a worn compressor that was the only unit judged against its pooled
        # cohort held z ~ -1 for three weeks while its condensing approach fell 10 K). The
        # bar is the evidence level, not mere suspicion: a healthy unit's odd day under
        # conditions its cohort rarely sees is what the spread is there to absorb.
        if not open_any and max(scores.values()) < tune.open_score:
            for i, deviation in deviations:
                cohort.note_residual(i, deviation)
        if not suspect:
            if judged:
                self._follow_offsets(v, b, n, residuals, tune)
            clean: list[float] | None = None
            for learner in teach:
                if int(v[1]) % tune.learn_every == 0 or min(learner.samples) < 2 * tune.cohort_min:
                    if clean is None:
                        clean = [
                            NAN
                            if floored[i]
                            or (not math.isnan(z[i]) and abs(v[b["z_fast"] + i]) > 4.0)
                            else y[i]
                            for i in range(n)
                        ]
                    taught = (
                        self._without_offset(v, b, clean, tune)
                        if tune.teach_without_offset and learner is cohort
                        else clean
                    )
                    learner.offer(ts, state.device_id, x, x_external, taught)
        return signals

    def _baseline(
        self, state: DeviceState, kind: Kind, regime: str, tune: KindTuning, ts: float
    ) -> tuple[CohortBaseline, tuple[CohortBaseline, ...]]:
        """The cohort a device is judged against, and the cohorts its healthy windows teach.

        A unit is judged against its own model's cohort. A model with only a handful of
        units in the field may take weeks to learn; a unit that has waited
        ``pooled_after_s`` of device time for it is judged against the pooled cohort of
        every model of its kind instead (its own offset absorbs the model's difference).
        The choice is made once and kept: switching later would move every expectation the
        unit's offsets were learned against. Healthy windows teach both cohorts.
        """
        own = self.cohort(kind, state.model, regime)
        pooled = self.cohort(kind, POOLED, regime)
        teach = (own, pooled)
        v = state.v
        choice = v[BASELINE]
        if choice == OWN_COHORT:
            return own, teach
        if choice == POOLED_COHORT:
            return pooled, teach
        if self._mature(own, tune):
            v[BASELINE] = OWN_COHORT
            return own, teach
        if math.isnan(v[BASELINE_WAIT]):
            v[BASELINE_WAIT] = ts
        if ts - v[BASELINE_WAIT] >= tune.pooled_after_s and self._mature(pooled, tune):
            v[BASELINE] = POOLED_COHORT
            return pooled, teach
        return own, teach

    @staticmethod
    def _mature(cohort: CohortBaseline, tune: KindTuning) -> bool:
        """Whether a cohort has learned enough, from enough units, to judge a unit by."""
        return max(cohort.samples) >= tune.cohort_min and len(cohort.units) >= tune.cohort_units

    @staticmethod
    def _without_offset(
        v: array[float], b: dict[str, int], y: list[float], tune: KindTuning
    ) -> list[float]:
        """``y`` less the unit's learned offsets, where its warm-up has ended."""
        return [
            value - v[b["offset"] + i] if v[b["offset_n"] + i] >= tune.warm_windows else value
            for i, value in enumerate(y)
        ]

    @staticmethod
    def _follow_offsets(
        v: array[float], b: dict[str, int], n: int, residuals: list[float], tune: KindTuning
    ) -> None:
        """Let a healthy-looking unit's learned offsets follow it, signal by signal.

        Only signals that look normal follow: a slow fault moves one or two signals well
        before the whole pattern scores as suspect, and following those would teach the
        unit that the fault is its normal (compressor wear stalled at z ~ -1 for a week).
        """
        for i in range(n):
            if math.isnan(residuals[i]) or v[b["offset_n"] + i] < tune.warm_windows:
                continue
            if abs(v[b["z_slow"] + i]) > tune.offset_guard_z:
                continue
            v[b["offset"] + i] += tune.offset_alpha * (residuals[i] - v[b["offset"] + i])

    def hard_finding(
        self,
        state: DeviceState,
        kind: Kind,
        fault: Fault,
        ts: float,
        evidence: tuple[Evidence, ...],
    ) -> Finding | None:
        """A direct rule proved a sudden fault: open it at once (if not open already)."""
        b = LAYOUTS[kind.value].block
        k = FAULT_ORDER[kind].index(fault)
        v = state.v
        if v[b["open"] + k]:
            return None
        v[b["open"] + k] = 1.0
        v[FAULTS_SEEN] = float(int(v[FAULTS_SEEN]) | (1 << k))
        v[b["score"] + k] = HARD_SCORE
        v[b["normal_since"] + k] = NAN
        v[b["normal_n"] + k] = 0.0
        others = [f for f in FAULT_ORDER[kind] if f is not fault]
        self.finding_patterns[(state.device_id, fault)] = [
            v[b["z_slow"] + i] for i in range(LAYOUTS[kind.value].n_signals)
        ]
        return Finding(
            device_id=state.device_id,
            kind=kind,
            fault=fault,
            confidence=0.95,
            severity=Severity.CRITICAL,
            observed_at=_dt(ts),
            evidence=evidence,
            alternatives=tuple(Alternative(fault=f, confidence=0.01) for f in others[:2]),
            predicted_failure_at=_dt(ts) + timedelta(hours=1),
        )

    def _persistence(
        self,
        *,
        state: DeviceState,
        kind: Kind,
        z: list[float],
        scores: dict[Fault, float],
        ts: float,
        open_any: bool,
        hold: dict[Fault, float],
    ) -> list[Signal]:
        tune = self.config.tuning[kind]
        b = LAYOUTS[kind.value].block
        v = state.v
        faults = FAULT_ORDER[kind]
        signals: list[Signal] = []
        ranked: list[tuple[Fault, float]] | None = None
        # "Normal" means the whole unit looks healthy again, not just this fault's pattern
        # (a worsening fault can drift from one signature towards another).
        all_clear = max(scores.values()) < tune.recover_score and not hold
        for k, fault in enumerate(faults):
            score = scores[fault]
            v[b["score"] + k] = score
            if v[b["open"] + k]:
                if all_clear:
                    if math.isnan(v[b["normal_since"] + k]):
                        v[b["normal_since"] + k] = ts
                    v[b["normal_n"] + k] += 1
                    since = v[b["normal_since"] + k]
                    if (
                        v[b["normal_n"] + k] >= tune.recover_windows
                        and ts - since >= tune.recover_s
                    ):
                        signals.append(Recovery(state.device_id, fault, _dt(ts), _dt(since)))
                        for name in ("open", "count", "normal_n"):
                            v[b[name] + k] = 0.0
                        v[b["normal_since"] + k] = NAN
                        v[b["first_ts"] + k] = NAN
                else:
                    v[b["normal_since"] + k] = NAN
                    v[b["normal_n"] + k] = 0.0
                continue
            # One fault at a time: once a unit has had a finding, a *different* fault needs
            # clearly stronger evidence (a worsening fault drifts across signatures).
            seen = int(v[FAULTS_SEEN])
            bar = tune.open_score + (ANOTHER_FAULT_MARGIN if seen & ~(1 << k) else 0.0)
            # "count" holds which of the last ``persist_of`` windows had evidence (a bit each).
            hit = score >= bar
            recent = ((int(v[b["count"] + k]) << 1) | hit) & ((1 << tune.persist_of) - 1)
            v[b["count"] + k] = float(recent)
            if not hit:
                if not recent:
                    v[b["first_ts"] + k] = NAN
                continue
            if math.isnan(v[b["first_ts"] + k]):
                v[b["first_ts"] + k] = ts
                v[b["first_score"] + k] = score
            if (
                recent.bit_count() < tune.persist
                or open_any
                or ts - v[b["first_ts"] + k] < tune.persist_s
            ):
                continue
            if ranked is None:
                ranked = self.diagnosers[kind].diagnose(z, scores)
            if ranked[0][0] is not fault:
                continue
            v[FAULTS_SEEN] = float(seen | (1 << k))
            signals.append(
                self._finding(
                    state=state,
                    kind=kind,
                    fault=fault,
                    ranked=ranked,
                    z=z,
                    ts=ts,
                    k=k,
                )
            )
            v[b["open"] + k] = 1.0
            open_any = True
        return signals

    def _finding(
        self,
        *,
        state: DeviceState,
        kind: Kind,
        fault: Fault,
        ranked: list[tuple[Fault, float]],
        z: list[float],
        ts: float,
        k: int,
    ) -> Finding:
        tune = self.config.tuning[kind]
        layout = LAYOUTS[kind.value]
        b = layout.block
        v = state.v
        probabilities = dict(ranked)
        confidence = probabilities[fault]
        alternatives = tuple(
            Alternative(fault=other, confidence=round(p, 3))
            for other, p in ranked
            if other is not fault and p >= 0.01
        )[:3]
        specs = SIGNALS[kind]
        order = sorted(
            (i for i in range(layout.n_signals) if not math.isnan(z[i])),
            key=lambda i: -abs(z[i]),
        )
        evidence = tuple(
            Evidence(
                signal=specs[i].name,
                baseline=round(_natural(specs[i], v[b["last_expected"] + i]), 4),
                observed=round(_natural(specs[i], v[b["last_y"] + i]), 4),
                unit=specs[i].unit,
            )
            for i in order[:4]
        )
        score = v[b["score"] + k]
        elapsed = ts - v[b["first_ts"] + k]
        slope = (score - v[b["first_score"] + k]) / elapsed if elapsed > 0 else 0.0
        if score >= tune.fail_score:
            eta = 86400.0
        elif slope > 0:
            eta = (tune.fail_score - score) / slope
        else:
            eta = 30 * 86400.0
        eta = max(3600.0, min(60 * 86400.0, eta))
        severity = (
            Severity.CRITICAL
            if eta <= 2 * 86400
            else Severity.HIGH
            if eta <= 7 * 86400
            else Severity.MEDIUM
            if eta <= 21 * 86400
            else Severity.LOW
        )
        self.finding_patterns[(state.device_id, fault)] = list(z)
        if len(self.finding_patterns) > 100_000:
            self.finding_patterns.pop(next(iter(self.finding_patterns)))
        return Finding(
            device_id=state.device_id,
            kind=kind,
            fault=fault,
            confidence=round(confidence, 3),
            severity=severity,
            observed_at=_dt(ts),
            evidence=evidence,
            alternatives=alternatives,
            predicted_failure_at=_dt(ts) + timedelta(seconds=eta),
        )

    def _pattern_from_evidence(self, outcome: Outcome) -> tuple[Kind | None, list[float] | None]:
        """Rebuild a residual pattern from an outcome's evidence (no finding remembered)."""
        for kind, specs in SIGNALS.items():
            names = {spec.name: i for i, spec in enumerate(specs)}
            if outcome.evidence and all(e.signal in names for e in outcome.evidence):
                z = [0.0] * len(specs)
                for e in outcome.evidence:
                    i = names[e.signal]
                    spec = specs[i]
                    if spec.log and e.observed > 0 and e.baseline > 0:
                        delta = math.log(e.observed / e.baseline)
                    else:
                        delta = e.observed - e.baseline
                    z[i] = delta / (3.0 * spec.floor)
                return kind, z
        return None, None
