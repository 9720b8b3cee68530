"""How a window of derived signals is judged: cohorts, residuals, persistence, findings.

Everything a kind's feature module needs once it has turned samples into one window's
signals (:mod:`detectors.ac`: a steady ten-minute window; :mod:`detectors.washer`: a
cycle) lives here, shared by every kind, so the kinds never reach back into the fleet
detector: the import graph runs ``fleet -> kinds -> judging``.

:meth:`Judge.score_window` compares each signal with what the device's cohort (same kind,
model and regime) shows under the same conditions plus the unit's own learned offset,
standardises the residual with the cohort's spread, and smooths it per device. The
smoothed residual pattern is scored against every fault signature; a fault whose score
stays above ``open_score`` for ``persist`` windows, spanning at least ``persist_s`` of
device time, and is the top diagnosis becomes a :class:`~detectors.api.Finding`. A direct
rule of a kind (a dead fan, an open heater element) opens one at once through
:meth:`Judge.hard_finding`. An open fault whose evidence stays normal for ``recover_s``
seconds and ``recover_windows`` windows yields a :class:`~detectors.api.Recovery`.

:class:`ApplianceKind` is what a kind's module hands to the registry
(:mod:`detectors.kinds`): its layout, tuning, readings and events, and how to build its
feature logic around a :class:`Judge`.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from detectors.api import Finding, Recovery, Signal
from detectors.baseline import CohortBaseline, Conditions, UnitSpread
from detectors.diagnosis import Diagnoser, fault_scores
from detectors.signatures import (
    HARD_SCORE,
    PATTERNS,
    SIGNALS,
    ProbeResponse,
    SignalSpec,
    censored,
)
from detectors.state import Blocks, DeviceState, Layout
from edge.contract import (
    Alternative,
    EventBase,
    Evidence,
    Fault,
    Kind,
    Readings,
    Severity,
)

NAN = float("nan")
#: Cohort learning is applied once event time passes a boundary of this many seconds.
EPOCH_S = 3600.0
#: Extra signature score a second, different fault needs on the same unit.
ANOTHER_FAULT_MARGIN = 1.5
#: Values of ``DeviceState.baseline``: 0 not chosen yet, its model's cohort, or the
#: pooled cohort of every model of its kind.
OWN_COHORT, POOLED_COHORT = 1.0, 2.0
#: Model name of the pooled cohort. A real model called "*" would share it: harmless, its
#: units would simply be judged against every model of their kind from the start.
POOLED = "*"
#: Faults of each kind in signature order: position ``k`` is the fault's slot in the
#: per-fault blocks of the state and its bit in ``faults_seen``.
FAULT_ORDER: dict[Kind, tuple[Fault, ...]] = {kind: tuple(PATTERNS[kind]) for kind in PATTERNS}


@dataclass(frozen=True)
class KindTuning:
    """Thresholds for one kind; windows are steady AC windows or washer cycles.

    The numbers are tuning choices, set on the simulated fleets; the reasons given below
    are what each one guards against.
    """

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
    #: those units do, and judges the next unit by how it differs from them. Units of one
    #: model sit apart by several sigma of the cohort's spread in opposite directions, so
    #: a cohort of a handful of units puts a healthy newcomer 4-5 sigma out on every
    #: signal. Eight, as ``early_units`` asks for eight units before their offsets' spread
    #: is trusted. A model with fewer units in the field is judged against the pooled
    #: cohort (``pooled_after_s``).
    cohort_units: int = 1
    #: ``persist`` is counted over this many latest windows (default: in a row). A washer
    #: shows a fault once per cycle, days apart, and one cycle with a light, well-balanced
    #: load must not start the count over.
    persist_of: int = 0
    #: Device time the evidence must span (from its first window) before a finding opens.
    #: A developing fault shows for hours on end; a window left open or an evening of odd
    #: use moves an AC's residuals for an hour or so, long enough to fill ``persist``
    #: windows of ten minutes with a fault's pattern on a healthy unit.
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
    #: leaving offsets learned against it stale by several sigma (healthy washers then
    #: read 2 sigma long on fill time for weeks: false inlet-valve orders). Without its
    #: offset, a unit teaches only how its readings move with the conditions; units still
    #: in warm-up keep the cohort's level anchored to the fleet's.
    teach_without_offset: bool = False

    def __post_init__(self) -> None:
        if self.persist_of == 0:
            object.__setattr__(self, "persist_of", self.persist)
        if not 1 <= self.persist <= self.persist_of <= 50:
            raise ValueError("need 1 <= persist <= persist_of <= 50")


S_contra = TypeVar("S_contra", bound=DeviceState, contravariant=True)
R_contra = TypeVar("R_contra", bound=Readings, contravariant=True)
S = TypeVar("S", bound=DeviceState)
R = TypeVar("R", bound=Readings)


class KindFeatures(Protocol[S_contra, R_contra]):
    """A kind's sample logic: readings to windows of signals, plus its direct rules.

    ``state`` is of the kind's own state class (``layout.state``), whose fields name
    its scalars.
    """

    def on_sample(self, state: S_contra, readings: R_contra, ts: float, gap: float) -> list[Signal]:
        """One sample, ``gap`` seconds after the device's previous one (inf: its first)."""

    def on_event(self, state: S_contra, event: EventBase, ts: float) -> list[Signal] | None:
        """One of the kind's ``events``; ``None`` when it came late (counted, not judged)."""


@dataclass(frozen=True)
class ApplianceKind(Generic[S, R]):
    """What one kind's module brings to the fleet detector (see :mod:`detectors.kinds`)."""

    kind: Kind
    #: The readings class of this kind's telemetry: it routes a sample to ``features``.
    readings: type[R]
    #: Event classes (besides ``error``, which the fleet maps itself) routed to ``features``.
    events: tuple[type[EventBase], ...]
    #: The state layout (``Layout.of`` the kind's ``DeviceState`` subclass): the common
    #: scalars, the kind's own, its signals' and faults' blocks, and any buffer.
    layout: Layout
    #: The shipped thresholds (``DetectorConfig`` may override them).
    tuning: KindTuning
    #: Signals that are the controller's response to the conditions (an AC's compressor
    #: speed): their cohorts predict them from the external conditions only.
    external: frozenset[int]
    #: Builds the kind's feature logic around the shared judge.
    features: Callable[[Judge], KindFeatures[S, R]]


def level_only(kind: Kind) -> frozenset[int]:
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


class Judge:
    """The fleet's shared models and the judgement of one window (module docstring).

    Holds what every device of a kind shares: cohort baselines, how far healthy units sit
    from them, the diagnosers, and the residual pattern behind each finding (for
    learning from outcomes). Per-device numbers stay in each device's state array.
    """

    def __init__(
        self, kinds: Mapping[Kind, ApplianceKind[Any, Any]], tuning: Mapping[Kind, KindTuning]
    ) -> None:
        self.tuning = tuning
        self.layouts = {kind: appliance.layout for kind, appliance in kinds.items()}
        self.external = {kind: appliance.external for kind, appliance in kinds.items()}
        self.cohorts: dict[tuple[str, str, str], CohortBaseline] = {}
        #: Per kind, how far healthy units sit from their cohorts (judges new units).
        self.unit_spreads = {
            kind: UnitSpread(len(SIGNALS[kind]), tuning[kind].early_units) for kind in kinds
        }
        self.diagnosers = {kind: Diagnoser(kind) for kind in kinds}
        #: Residual pattern behind each finding, kept for learn_from_outcome.
        self.finding_patterns: dict[tuple[str, Fault], list[float]] = {}
        self.epoch_end = NAN
        #: Optional observer of every judged window: (device_id, ts, residual z, names).
        self.trace: Callable[[str, float, list[float], list[str]], None] | None = None

    def tick(self, ts: float) -> None:
        """Apply queued cohort learning once event time passes an hour boundary."""
        if ts >= self.epoch_end or self.epoch_end != self.epoch_end:
            for cohort in self.cohorts.values():
                cohort.apply_pending()
            self.epoch_end = (ts // EPOCH_S + 1) * EPOCH_S

    def cohort(self, kind: Kind, model: str, regime: str) -> CohortBaseline:
        """The cohort of ``kind``/``model``/``regime``, made empty on first use."""
        key = (kind.value, model, regime)
        cohort = self.cohorts.get(key)
        if cohort is None:
            specs = SIGNALS[kind]
            floors = tuple(s.floor for s in specs)
            cohort = CohortBaseline(floors, self.external[kind], level_only(kind))
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
        tune = self.tuning[kind]
        layout = self.layouts[kind]
        v = state.v
        at = layout.at
        n = layout.n_signals
        cohort, teach = self.baseline(state, kind, regime, tune, ts)
        expected = cohort.predict(x, x_external)
        # Judged only where the cohort has seen such conditions, once it is mature.
        judging = cohort.covers(x) and self._mature(cohort, tune)
        state.windows += 1
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
            seen = v[at.offset_n + i]
            offset = v[at.offset + i]
            scale = cohort.scale(i)
            if seen < tune.warm_windows:
                if not floored[i]:
                    v[at.offset + i] += (residual - offset) / (seen + 1)
                    v[at.offset_n + i] = seen + 1
                    if seen + 1 >= tune.warm_windows:
                        spread.note(i, v[at.offset + i])
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
            zs = v[at.z_slow + i] + tune.z_alpha * (zi - v[at.z_slow + i])
            v[at.z_slow + i] = zs
            v[at.z_fast + i] = zi
            v[at.last_y + i] = value
            v[at.last_expected + i] = value - deviation
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
        open_any = any(v[at.open + k] for k in range(len(faults)))
        suspect = open_any or max(scores.values()) >= 0.6 * tune.open_score
        if self.trace is not None and judged:
            self.trace(state.device_id, ts, z, [spec.name for spec in SIGNALS[kind]])
        if judged or hard:
            signals = self.persistence(
                state=state, kind=kind, z=z, scores=scores, ts=ts, open_any=open_any, hold=hold
            )
        # Learning, protected: a suspect unit teaches neither its cohort nor its offset.
        # The cohort's spread learns from every unit but one showing a fault's evidence: a
        # faulty unit's growing residuals would widen the scale every unit is judged by, its
        # own most of all (a worn compressor alone in its cohort would hide its own drift:
        # the wider scale holds its z near -1 while its condensing approach falls for
        # weeks). The bar is the evidence level, not mere suspicion: a healthy unit's odd
        # day under conditions its cohort rarely sees is what the spread is there to absorb.
        if not open_any and max(scores.values()) < tune.open_score:
            for i, deviation in deviations:
                cohort.note_residual(i, deviation)
        if not suspect:
            if judged:
                self.follow_offsets(v, at, n, residuals, tune)
            clean: list[float] | None = None
            windows = int(state.windows)
            for learner in teach:
                if windows % tune.learn_every == 0 or min(learner.samples) < 2 * tune.cohort_min:
                    if clean is None:
                        clean = [
                            NAN
                            if floored[i] or (not math.isnan(z[i]) and abs(v[at.z_fast + i]) > 4.0)
                            else y[i]
                            for i in range(n)
                        ]
                    taught = (
                        self.without_offset(v, at, clean, tune)
                        if tune.teach_without_offset and learner is cohort
                        else clean
                    )
                    learner.offer(ts, state.device_id, x, x_external, taught)
        return signals

    def baseline(
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
        choice = state.baseline
        if choice == OWN_COHORT:
            return own, teach
        if choice == POOLED_COHORT:
            return pooled, teach
        if self._mature(own, tune):
            state.baseline = OWN_COHORT
            return own, teach
        if math.isnan(state.baseline_wait_ts):
            state.baseline_wait_ts = ts
        if ts - state.baseline_wait_ts >= tune.pooled_after_s and self._mature(pooled, tune):
            state.baseline = POOLED_COHORT
            return pooled, teach
        return own, teach

    @staticmethod
    def _mature(cohort: CohortBaseline, tune: KindTuning) -> bool:
        """Whether a cohort has learned enough, from enough units, to judge a unit by."""
        return max(cohort.samples) >= tune.cohort_min and len(cohort.units) >= tune.cohort_units

    @staticmethod
    def without_offset(
        v: array[float], at: Blocks, y: list[float], tune: KindTuning
    ) -> list[float]:
        """``y`` less the unit's learned offsets, where its warm-up has ended."""
        return [
            value - v[at.offset + i] if v[at.offset_n + i] >= tune.warm_windows else value
            for i, value in enumerate(y)
        ]

    @staticmethod
    def follow_offsets(
        v: array[float], at: Blocks, n: int, residuals: list[float], tune: KindTuning
    ) -> None:
        """Let a healthy-looking unit's learned offsets follow it, signal by signal.

        Only signals that look normal follow: a slow fault moves one or two signals well
        before the whole pattern scores as suspect, and following those would teach the
        unit that the fault is its normal (a worn compressor's offsets would follow its
        drift and hold its z near -1 for as long as the wear takes).
        """
        for i in range(n):
            if math.isnan(residuals[i]) or v[at.offset_n + i] < tune.warm_windows:
                continue
            if abs(v[at.z_slow + i]) > tune.offset_guard_z:
                continue
            v[at.offset + i] += tune.offset_alpha * (residuals[i] - v[at.offset + i])

    def hard_finding(
        self,
        state: DeviceState,
        kind: Kind,
        fault: Fault,
        ts: float,
        evidence: tuple[Evidence, ...],
    ) -> Finding | None:
        """A direct rule proved a sudden fault: open it at once (if not open already)."""
        layout = self.layouts[kind]
        at = layout.at
        k = FAULT_ORDER[kind].index(fault)
        v = state.v
        if v[at.open + k]:
            return None
        v[at.open + k] = 1.0
        state.faults_seen = float(int(state.faults_seen) | (1 << k))
        v[at.score + k] = HARD_SCORE
        v[at.normal_since + k] = NAN
        v[at.normal_n + k] = 0.0
        others = [f for f in FAULT_ORDER[kind] if f is not fault]
        self.finding_patterns[(state.device_id, fault)] = [
            v[at.z_slow + i] for i in range(layout.n_signals)
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

    def persistence(
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
        """Count each fault's evidence window by window; open findings, yield recoveries."""
        tune = self.tuning[kind]
        at = self.layouts[kind].at
        v = state.v
        faults = FAULT_ORDER[kind]
        signals: list[Signal] = []
        ranked: list[tuple[Fault, float]] | None = None
        # "Normal" means the whole unit looks healthy again, not just this fault's pattern
        # (a worsening fault can drift from one signature towards another).
        all_clear = max(scores.values()) < tune.recover_score and not hold
        for k, fault in enumerate(faults):
            score = scores[fault]
            v[at.score + k] = score
            if v[at.open + k]:
                if all_clear:
                    if math.isnan(v[at.normal_since + k]):
                        v[at.normal_since + k] = ts
                    v[at.normal_n + k] += 1
                    since = v[at.normal_since + k]
                    if v[at.normal_n + k] >= tune.recover_windows and ts - since >= tune.recover_s:
                        signals.append(Recovery(state.device_id, fault, _dt(ts), _dt(since)))
                        v[at.open + k] = 0.0
                        v[at.count + k] = 0.0
                        v[at.normal_n + k] = 0.0
                        v[at.normal_since + k] = NAN
                        v[at.first_ts + k] = NAN
                else:
                    v[at.normal_since + k] = NAN
                    v[at.normal_n + k] = 0.0
                continue
            # One fault at a time: once a unit has had a finding, a *different* fault needs
            # clearly stronger evidence (a worsening fault drifts across signatures).
            seen = int(state.faults_seen)
            bar = tune.open_score + (ANOTHER_FAULT_MARGIN if seen & ~(1 << k) else 0.0)
            # "count" holds which of the last ``persist_of`` windows had evidence (a bit each).
            hit = score >= bar
            recent = ((int(v[at.count + k]) << 1) | hit) & ((1 << tune.persist_of) - 1)
            v[at.count + k] = float(recent)
            if not hit:
                if not recent:
                    v[at.first_ts + k] = NAN
                continue
            if math.isnan(v[at.first_ts + k]):
                v[at.first_ts + k] = ts
                v[at.first_score + k] = score
            if (
                recent.bit_count() < tune.persist
                or open_any
                or ts - v[at.first_ts + k] < tune.persist_s
            ):
                continue
            if ranked is None:
                ranked = self.diagnosers[kind].diagnose(z, scores)
            if ranked[0][0] is not fault:
                continue
            state.faults_seen = float(seen | (1 << k))
            signals.append(
                self._finding(state=state, kind=kind, fault=fault, ranked=ranked, z=z, ts=ts, k=k)
            )
            v[at.open + k] = 1.0
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
        tune = self.tuning[kind]
        layout = self.layouts[kind]
        at = layout.at
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
                baseline=round(_natural(specs[i], v[at.last_expected + i]), 4),
                observed=round(_natural(specs[i], v[at.last_y + i]), 4),
                unit=specs[i].unit,
            )
            for i in order[:4]
        )
        score = v[at.score + k]
        elapsed = ts - v[at.first_ts + k]
        slope = (score - v[at.first_score + k]) / elapsed if elapsed > 0 else 0.0
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
