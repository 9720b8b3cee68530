"""The fault-signature table (shared domain note) as numbers the detectors can score.

Each kind has a fixed list of derived signals. A fault's *pattern* says which way each
signal moves relative to a healthy twin: ``+2`` strongly up, ``-1`` down, ``0`` stays put
(moving it counts against the fault), and a signal not named is "don't care". Patterns
are scored against the vector of standardised residuals (z-scores); the best-matching
fault is the rule prior of the diagnosis. A fault may have several patterns (a sensor
fault is one of several thermistors); its score is the best of them. ``abs_signals``
are signals that move in either direction for that fault (a jammed drain pump draws
more current, a dry-running one less).

The table is physics, not tuning: directions come straight from the domain note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edge.contract import Fault, Kind


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """One derived signal: its name (as shown in evidence), unit and smallest residual scale.

    ``floor`` stops a very quiet signal from turning measurement resolution into alarms.
    """

    name: str
    unit: str
    floor: float
    #: Modelled as a logarithm: a unit's offset is a ratio (its inlet pressure scales every
    #: fill time), so one offset fits every program; ``floor`` is then a relative change.
    log: bool = False
    #: No condition moves it on a healthy unit: its cohort learns a level, not a regression
    #: (see ``CohortBaseline.level_only``).
    level_only: bool = False


#: Where a logarithmic signal floors: a rate or duration of (almost) zero (no heating at all
#: in a cycle, a glitch on the probe at the end of heating). Such a reading is *censored*: it
#: is judged (it is strong evidence), but it says nothing about a unit's healthy level, so
#: it is neither learned into the unit's offset nor taught to its cohort (the log of a rate
#: near zero lies many sigma below any healthy reading: averaged in, one such cycle pulls a
#: unit's offset, and its cohort's expectation with it, far enough to raise a false probe
#: fault weeks later).
LOG_FLOOR_VALUE = 0.01
LOG_FLOOR = math.log(LOG_FLOOR_VALUE)


def censored(spec: SignalSpec, value: float) -> bool:
    """Whether ``value`` of ``spec`` is a floored (censored) reading.

    >>> censored(SignalSpec("heat_ramp_k_per_min", "K/min", 0.03, log=True), LOG_FLOOR)
    True
    >>> censored(SignalSpec("heat_ramp_k_per_min", "K/min", 0.03, log=True), math.log(0.8))
    False
    """
    return spec.log and value <= LOG_FLOOR


@dataclass(frozen=True, slots=True)
class Pattern:
    """Expected direction and strength per signal index for one way a fault shows."""

    weights: dict[int, float]
    abs_signals: frozenset[int] = field(default_factory=frozenset)
    #: A single-sensor pattern: scored as |offset| with the physical signals staying put.
    sensor: bool = False
    #: The room probe: when the window's :class:`ProbeResponse` is known, this pattern is
    #: scored by :func:`probe_score` instead (see ``ROOM_PROBE``).
    room_probe: bool = False


# --- AC: one steady-state window of samples in cooling (heating swaps the coils) ---
AC_SIGNALS: tuple[SignalSpec, ...] = (
    SignalSpec("superheat_k", "K", 0.4),
    SignalSpec("condensing_approach_k", "K", 0.4),
    SignalSpec("evaporator_approach_k", "K", 0.4),
    SignalSpec("air_delta_t_k", "K", 0.3),
    SignalSpec("discharge_temp_c", "°C", 0.8),
    SignalSpec("current_per_hz_a", "A/Hz", 0.002),
    SignalSpec("eev_steps", "steps", 4.0),
    SignalSpec("outdoor_fan_rpm", "rpm", 15.0),
    SignalSpec("indoor_fan_rpm", "rpm", 15.0),
    SignalSpec("capacity_per_hz", "K·krpm/Hz", 0.002),
    SignalSpec("compressor_hz", "Hz", 1.5),
)
SH, CA, EA, ADT, DIS, CPH, EEV, OFR, IFR, CAP, HZ = range(len(AC_SIGNALS))


def sensor_pattern(
    moving: set[int], responders: frozenset[int], n: int, *, room_probe: bool = False
) -> Pattern:
    """One thermistor reads wrong: signals built from it move, every other signal stays put.

    ``responders`` are controller outputs that may follow the wrong reading (compressor
    speed, expansion valve): they neither count for nor against the pattern.
    """
    weights = {i: (1.0 if i in moving else 0.0) for i in range(n) if i not in responders}
    return Pattern(weights, sensor=True, room_probe=room_probe)


_AC_N = len(AC_SIGNALS)
#: Controller outputs, free to follow a wrong reading: neither for nor against a sensor.
AC_RESPONDERS = frozenset({HZ, EEV, CAP})
AC_PATTERNS: dict[Fault, tuple[Pattern, ...]] = {
    # The EEV opens to hold superheat and hides early undercharge (NIST SP 1087): the
    # valve and the discharge temperature tell first, superheat once the valve saturates.
    Fault.REFRIGERANT_LEAK: (
        Pattern({EEV: 2, SH: 1, DIS: 1, EA: 1, CA: -1, CPH: -1, ADT: -1, OFR: 0, IFR: 0}),
    ),
    Fault.CONDENSER_FOULING: (
        Pattern({SH: -0.5, CA: 2, DIS: 1, CPH: 1, ADT: -0.5, OFR: 0, IFR: 0}),
    ),
    Fault.OUTDOOR_FAN_FAILURE: (Pattern({CA: 2, DIS: 1, CPH: 1, ADT: -0.5, OFR: -3, IFR: 0}),),
    # Low indoor airflow: colder coil and supply air; the fan speeds up against the filter.
    Fault.DIRTY_FILTER: (
        Pattern({EA: 2, SH: -1, CA: -1, DIS: -1, EEV: -1, ADT: 1, IFR: 1, OFR: 0}),
    ),
    Fault.COMPRESSOR_WEAR: (
        Pattern({EA: -1, SH: -1, CA: -1, DIS: -1, CPH: -1, ADT: -1, CAP: -1, HZ: 1, OFR: 0}),
    ),
    Fault.SENSOR_FAULT: (
        # Room air. Scored by its response (ROOM_PROBE) where the cohort is known; this
        # static form is the cooling-mode fallback (a pattern rebuilt from evidence).
        sensor_pattern({EA, ADT}, AC_RESPONDERS, _AC_N, room_probe=True),
        sensor_pattern({ADT}, AC_RESPONDERS, _AC_N),  # supply air
        sensor_pattern({SH, EA}, AC_RESPONDERS, _AC_N),  # indoor coil
        sensor_pattern({CA}, AC_RESPONDERS, _AC_N),  # outdoor coil
        sensor_pattern({SH}, AC_RESPONDERS, _AC_N),  # suction line
        sensor_pattern({DIS}, AC_RESPONDERS, _AC_N),  # discharge line
    ),
}

#: How a room probe reading 1 K high moves the signals built from it, per AC mode (the
#: regime). The room reading is also a condition the cohort predicts from (room
#: temperature and load, room minus setpoint), so every expectation moves with it: a
#: room probe drifting high raises the expected discharge temperature, condensing
#: approach and superheat of a healthy unit along with it, and the residuals, low across
#: the board beside a high evaporator approach, read as a dirty filter.
#: :func:`probe_score` scores the drift by the whole response instead.
ROOM_PROBE: dict[str, dict[int, float]] = {
    "cool": {EA: 1.0, ADT: 1.0},  # room - indoor coil, room - supply
    "heat": {CA: -1.0, ADT: -1.0},  # indoor coil - room, supply - room
}


@dataclass(frozen=True, slots=True)
class ProbeResponse:
    """What one kelvin of error on the room probe does to every standardised residual.

    ``response[i]`` is the change of signal ``i``'s z per kelvin: the signal's own change
    (``ROOM_PROBE``) minus the change of its expectation, over its residual scale; NaN
    where unknown. ``primary`` are the signals built from the reading itself.
    """

    response: list[float]
    primary: frozenset[int]


# --- Washer: one cycle ---
WASHER_SIGNALS: tuple[SignalSpec, ...] = (
    # Judged only where the firmware leaves ``water_l`` out (fill_time_per_litre below).
    SignalSpec("fill_time_s", "s", 0.03, log=True),
    SignalSpec("drain_time_s", "s", 0.03, log=True),
    SignalSpec("heat_ramp_k_per_min", "K/min", 0.03, log=True),
    SignalSpec("rpm_shortfall", "ratio", 0.004),
    SignalSpec("spin_vibration_g", "g", 0.01),
    SignalSpec("low_spin_vibration_g", "g", 0.01),
    SignalSpec("unbalance_retries", "count", 0.3),
    SignalSpec("drain_pump_current_a", "A", 0.01),
    SignalSpec("spin_current_a", "A", 0.05),
    SignalSpec("max_spin_rpm", "rpm", 10.0),
    SignalSpec("x_vibration_kurtosis", "", 0.1),
    SignalSpec("heater_power_w", "W", 40.0),
    # Low-spin over top-spin vibration: both scale with the load's unbalance, which varies
    # from cycle to cycle far more than an early fault moves either; their ratio does not,
    # and worn dampers raise it (resonance at low speed) while rough bearings lower it.
    SignalSpec("low_to_top_spin_vibration", "ratio", 0.03, log=True),
    # What the probes read where the water's state is known: the temperature when the
    # heater stops (the program's target), the level while spinning with the drum drained
    # (zero: a reading above it is the probe's own offset, to the millimetre). A drifting
    # probe moves these and nothing physical. (The level at the end of a fill was tried:
    # programs and rinses fill to levels the load does not predict well enough.)
    SignalSpec("heat_end_over_target_k", "K", 0.3),
    SignalSpec("spin_level_mm", "mm", 0.5),
    # The level while washing: a fill by volume for the load, so the load predicts it; a
    # probe drifting low shows here (the drained drum reads zero whatever the offset).
    SignalSpec("wash_level_mm", "mm", 1.0),
    # The fill time over the water it let in (``water_l`` of ``cycle_end``): the inverse of
    # the inlet flow, which the mains pressure sets per home and a restricted valve lowers.
    # The fill time itself also follows the program's rinses and the load, which the
    # cohort must learn; per litre, one healthy unit reads alike on every program and
    # load, so its cohort learns a level and no regression (``level_only``: a regression
    # credited the programs, and by its shape the warming inlet water, with the units'
    # pressures). (On its own the ratio did not end the false inlet-valve orders of
    # healthy washers: the cohorts' teaching did, see ``KindTuning.teach_without_offset``.)
    SignalSpec("fill_time_per_litre", "s/L", 0.03, log=True, level_only=True),
)
(
    FILL,
    DRAIN,
    RAMP,
    RPMS,
    SVIB,
    LVIB,
    RETR,
    DPC,
    SCUR,
    MAXRPM,
    KURT,
    HPWR,
    VRATIO,
    HEND,
    EMPTY,
    WLEVEL,
    FILL_L,
) = range(len(WASHER_SIGNALS))

WASHER_PATTERNS: dict[Fault, tuple[Pattern, ...]] = {
    Fault.BEARING_WEAR: (
        Pattern({SVIB: 2, KURT: 2, SCUR: 1, VRATIO: -1, FILL: 0, FILL_L: 0, DRAIN: 0, RPMS: 0}),
    ),
    Fault.DRAIN_PUMP_CLOG: (
        Pattern({DRAIN: 3, DPC: 1, FILL: 0, FILL_L: 0, SVIB: 0}, abs_signals=frozenset({DPC})),
    ),
    # One signal or the other is judged, by whether the firmware reports the water let in.
    Fault.INLET_VALVE_RESTRICTION: (
        Pattern({FILL_L: 3, DRAIN: 0, RAMP: 0, SVIB: 0}),
        Pattern({FILL: 3, DRAIN: 0, RAMP: 0, SVIB: 0}),
    ),
    Fault.HEATER_FAILURE: (Pattern({RAMP: -2, HPWR: -1, FILL: 0, FILL_L: 0, DRAIN: 0}),),
    Fault.MOTOR_BELT_SLIP: (Pattern({RPMS: 3, SCUR: 1, MAXRPM: -1, SVIB: 0, FILL: 0, FILL_L: 0}),),
    # Worn dampers let the drum shake, most through the resonance on the way up: vibration
    # at low spin speeds rises first and most, and low-over-top vibration with it (where
    # an unbalanced load raises both speeds alike and rough bearings, above, lower the
    # ratio). The top-spin level is left out, as the domain note leaves it: worn dampers
    # lower the unbalance the controller tolerates, so it redistributes the load more and
    # the top spin can run smoother than before, and counted against the fault it would
    # hold back the order of a unit whose low-over-top ratio is already well up. Retries and
    # a lowered final spin are the controller's protection, late: they come only once the
    # tolerated unbalance has fallen below what ordinary loads bring, so they weigh half
    # (at full weight, flat through the early weeks, they would hold a unit with low-spin
    # vibration and the ratio at +2 to +3 sigma below the bar for days).
    Fault.SUSPENSION_WEAR: (Pattern({LVIB: 3, VRATIO: 2, RETR: 0.5, MAXRPM: -0.5, RPMS: 0}),),
    # Temperature probe reads wrong: the ramp looks off while the heater draws its power.
    Fault.SENSOR_FAULT: (
        Pattern({RAMP: 1, HPWR: 0, FILL: 0, FILL_L: 0, DRAIN: 0}, sensor=True),
        Pattern({HEND: 1, RAMP: 0, HPWR: 0, FILL: 0, FILL_L: 0, DRAIN: 0, EMPTY: 0}, sensor=True),
        Pattern({EMPTY: 1, FILL: 0, FILL_L: 0, DRAIN: 0, HEND: 0, RAMP: 0}, sensor=True),
        Pattern({WLEVEL: 1, FILL: 0, FILL_L: 0, DRAIN: 0, HEND: 0, RAMP: 0}, sensor=True),
    ),
}

SIGNALS: dict[Kind, tuple[SignalSpec, ...]] = {Kind.AC: AC_SIGNALS, Kind.WASHER: WASHER_SIGNALS}
PATTERNS: dict[Kind, dict[Fault, tuple[Pattern, ...]]] = {
    Kind.AC: AC_PATTERNS,
    Kind.WASHER: WASHER_PATTERNS,
}


#: A lone moving signal is weaker evidence than a physical pattern across several: a
#: sensor pattern counts its signal at the weight a physical pattern gives its main one.
SENSOR_GAIN = 0.6
SENSOR_MARGIN = 0.5
#: The room probe's fit spans every signal, its evidence weighed as a physical pattern's:
#: a drift the whole response explains is evidence across several signals, and scored at
#: the lone-signal gain a well-fitting drift falls below the physical pattern it mimics
#: (a dirty filter).
PROBE_GAIN = 1.0


def pattern_score(pattern: Pattern, z: list[float]) -> float:
    """How well standardised residuals ``z`` match ``pattern`` (z units; higher is better).

    Signals that should move contribute their projection on the expected direction;
    signals that should stay put cost whatever they moved beyond one sigma. A signal
    that is missing (NaN) neither helps nor hurts.

    >>> p = Pattern({0: 2, 1: -1, 2: 0})
    >>> round(pattern_score(p, [4.0, -2.0, 0.0]), 2)
    3.33
    >>> pattern_score(p, [4.0, -2.0, 6.0]) < 2
    True
    """
    gain = 0.0
    norm = 0.0
    penalty = 0.0
    quiet = 0
    moved: float | None = None
    for index, weight in pattern.weights.items():
        value = z[index]
        if math.isnan(value):  # NaN: signal not available
            continue
        value = max(-8.0, min(8.0, value))
        if weight == 0:
            penalty += max(0.0, abs(value) - 1.0)
            quiet += 1
            continue
        if pattern.sensor:
            # Every signal built from the suspect thermistor must have moved.
            moved = abs(value) if moved is None else min(moved, abs(value))
            continue
        if index in pattern.abs_signals:
            value = abs(value)
        gain += weight * value
        norm += abs(weight)
    if pattern.sensor:
        if moved is None:
            return 0.0
        return float(SENSOR_GAIN * moved - SENSOR_MARGIN - 1.5 * penalty / math.sqrt(max(1, quiet)))
    if norm == 0:
        return 0.0
    return float(gain / norm - penalty / math.sqrt(max(1, quiet)))


def probe_score(
    probe: ProbeResponse, z: list[float], ignore: frozenset[int] = AC_RESPONDERS
) -> float:
    """How well ``z`` matches one probe's error of unknown size (z units, as a sensor pattern).

    The error's size is fitted to every signal by least squares; the evidence is the
    fitted pattern's mean projection (as :func:`pattern_score` weights a pattern, here by
    the response), and each signal costs what it strays from the fit beyond one sigma.
    The projection counts, not the signals built from the reading alone: where the
    cohort's expectation of a signal follows the room, a room probe's error shows in the
    *other* signals' expectations more than in its own. ``ignore`` are controller outputs.

    >>> probe = ProbeResponse([2.0, 1.0, -0.5, 0.0], frozenset({0, 1}))
    >>> round(probe_score(probe, [6.0, 3.0, -1.5, 0.2]), 2)  # a 3 K error, all explained
    4.0
    >>> probe_score(probe, [6.0, 3.0, 1.5, 0.2]) < 2.5  # the third signal went the wrong way
    True
    >>> probe_score(probe, [6.0, -3.0, -1.5, 0.2]) < 0  # the reading's signals disagree
    True
    """
    response = probe.response
    used = [
        i
        for i, per_kelvin in enumerate(response)
        if i not in ignore and not math.isnan(z[i]) and not math.isnan(per_kelvin)
    ]
    if not any(i in probe.primary for i in used):
        return 0.0
    clipped = {i: max(-8.0, min(8.0, z[i])) for i in used}
    squares = sum(response[i] ** 2 for i in used)
    spread = sum(abs(response[i]) for i in used)
    if squares == 0.0:
        return 0.0
    size = sum(response[i] * clipped[i] for i in used) / squares
    penalty = sum(max(0.0, abs(clipped[i] - size * response[i]) - 1.0) for i in used)
    evidence = abs(size) * squares / spread
    return float(PROBE_GAIN * evidence - SENSOR_MARGIN - 1.5 * penalty / math.sqrt(len(used)))


#: Score given to a fault proven by a direct rule (a dead fan, an open heater element).
HARD_SCORE = 20.0
