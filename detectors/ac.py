"""AC samples to steady-state windows of derived signals, plus the sudden-fault rules.

Per sample: skip what is not steady operation (compressor off, the first
``STARTUP_S`` after a start, a mode or setpoint change, a large compressor speed step,
defrost in heating, a gap in the data), compute the derived quantities of the fault
signature note (superheat, condensing and evaporator approaches, air-side delta T,
current per compressor Hz, a capacity proxy...) and collect them in a window. A window
closes after ``WINDOW_SAMPLES`` samples or ``WINDOW_S`` seconds; its per-signal
*medians* (one glitchy sample cannot move a median) go to the fleet detector's scoring.

Sudden faults do not wait for windows: an outdoor fan at standstill while the compressor
runs in cooling, a thermistor frozen at one value, or a reading that physics forbids,
each held for ``HARD_HOLD_S``, opens a finding directly.

The module's :data:`APPLIANCE` is what the registry (:mod:`detectors.kinds`) knows of it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from detectors.api import Finding, Signal
from detectors.judging import FAULT_ORDER, ApplianceKind, Judge, KindTuning
from detectors.signatures import AC_SIGNALS, HARD_SCORE, HZ, OFR, ROOM_PROBE
from detectors.state import DeviceState, Layout, Scalar
from edge.contract import AcMode, AcReadings, EventBase, Evidence, Fault, Kind

NAN = float("nan")
STARTUP_S = 600.0
WINDOW_SAMPLES = 10
WINDOW_S = 900.0
MAX_GAP_S = 660.0
HZ_STEP = 10.0
HARD_HOLD_S = 600.0
FAN_STOPPED_RPM = 60.0
#: A thermistor is stuck when its reading stays put for longer than its own way of
#: changing makes believable: each unit learns how often each reading repeats the last
#: one exactly (EW over running samples, ``STUCK_RATE_ALPHA``), and a run of ``n``
#: repeats that a healthy reading would show with probability below ``STUCK_CHANCE``
#: (rate ** n) holds. A new unit starts as if its readings always repeated, at
#: ``STUCK_MAX_SAMPLES``: a healthy room or coil thermistor, held by the controller,
#: repeats a rounded value for up to ~15 samples in a month of fleet data; suction and
#: discharge, following the refrigerant's every swing, repeat 6% of the time and never
#: five in a row in 4,000 healthy AC-days, so they are judged from ``STUCK_MIN_SAMPLES``:
#: a pipe thermistor that sticks late in a run is named in that run, where the bar of a
#: new unit would wait for the next one. Both bounds are tuning choices over those
#: fleet statistics.
STUCK_MIN_SAMPLES = 10
STUCK_MAX_SAMPLES = 22
STUCK_CHANCE = 1e-10
STUCK_RATE_ALPHA = 0.01
STUCK_HOLD_S = 300.0
#: A coil or pipe thermistor reads the refrigerant, which moves within a minute or two
#: of the compressor starting (the condenser warms by ~15 K, the evaporator cools): a
#: reading held since the compressor was last seen stopped and still the same after
#: ``RUN_MOVE_S`` of running is stuck, however few samples that took. Counted in
#: repeats alone, a pipe that stuck while the unit was off would go unnamed through
#: short runs with hours off between them. Five minutes is a tuning choice, a few times
#: the refrigerant's response.
RUN_MOVE_S = 300.0
#: The same holds when it stops: refrigerant-side readings head for the air around them
#: within minutes. One held since before the compressor stopped, unchanged ``RUN_MOVE_S``
#: later and still more than ``STOP_APART_K`` from that air is stuck; left to the next
#: run, a thermistor that stuck shortly before a long stop would be named hours later.
#: The distance (a tuning choice) keeps a pipe that ran at the air's temperature from
#: counting.
STOP_APART_K = 3.0
N_SIGNALS = len(AC_SIGNALS)
CONDITIONS = ("outdoor", "room", "hz", "setpoint")
COLUMNS = N_SIGNALS + len(CONDITIONS)
BUFFER = WINDOW_SAMPLES * COLUMNS
THERMISTORS = (
    "room_temp_c",
    "supply_temp_c",
    "indoor_coil_temp_c",
    "outdoor_coil_temp_c",
    "suction_temp_c",
    "discharge_temp_c",
)
#: The thermistors on the refrigerant side (``THERMISTORS`` from this index on).
FIRST_PIPE = THERMISTORS.index("indoor_coil_temp_c")


class AcState(
    DeviceState,
    extra=(
        *(f"stuck_value{i}" for i in range(len(THERMISTORS))),
        *(f"stuck_n{i}" for i in range(len(THERMISTORS))),
        *(f"stuck{i}_since" for i in range(len(THERMISTORS))),
        *(f"stuck{i}_moves" for i in range(len(THERMISTORS))),
    ),
):
    """An AC's state: its own scalars after the common ones, then one family per thermistor.

    The thermistor families (``THERMISTORS`` order) are reached through
    :data:`THERMISTOR_SLOTS`: the last reading, its repeats, since when it is held, and
    the EW share of running samples in which it changed (0 until learned).
    """

    __slots__ = ()
    #: Start of the current run (NaN while the compressor is stopped or the mode is off).
    run_start = Scalar()
    #: The last sample with the compressor stopped (off, idle or fanning).
    compressor_stopped_ts = Scalar()
    #: The first sample of the current stop (NaN while the compressor runs).
    stop_start = Scalar()
    #: The previous running sample's compressor speed and setpoint (a step is no steady
    #: state) and mode (``_MODE_CODE``).
    prev_hz = Scalar()
    prev_setpoint = Scalar()
    prev_mode = Scalar()
    #: The window being collected: its first sample and its samples so far.
    window_start = Scalar()
    window_n = Scalar()
    #: A heating unit defrosting (and settling after) is no steady state until then.
    defrost_until = Scalar()
    #: Since when the outdoor fan stood still while cooling (NaN: it turns).
    fan_low_since = Scalar()
    #: Since when a reading physics forbids has held (NaN: none).
    impossible_since = Scalar()


class ThermistorSlots(NamedTuple):
    """Where one thermistor's stuck-reading watch lives in an AC's state array."""

    name: str
    value: int
    repeats: int
    since: int
    moves: int


THERMISTOR_SLOTS = tuple(
    ThermistorSlots(
        name,
        AcState.index(f"stuck_value{i}"),
        AcState.index(f"stuck_n{i}"),
        AcState.index(f"stuck{i}_since"),
        AcState.index(f"stuck{i}_moves"),
    )
    for i, name in enumerate(THERMISTORS)
)
LAYOUT = Layout.of(AcState, N_SIGNALS, len(FAULT_ORDER[Kind.AC]), buffer=BUFFER)
#: What a sample without the compressor running resets: no run, no window, no fan or
#: impossible-reading hold under way ((slot, value) pairs, one loop on the hot path).
_NOT_RUNNING = tuple(
    (AcState.index(name), value)
    for name, value in (
        ("run_start", NAN),
        ("window_n", 0.0),
        ("fan_low_since", NAN),
        ("impossible_since", NAN),
    )
)
#: Where the outdoor fan's last expected value is (the fan rule's evidence baseline).
_EXPECTED_FAN = LAYOUT.at.last_expected + OFR

_MODE_CODE = {AcMode.COOL: 1.0, AcMode.HEAT: 2.0}


def derived(r: AcReadings, mode: AcMode, hz: float) -> list[float]:
    """The signal vector of one running sample (NaN where a reading is missing).

    >>> r = AcReadings(mode=AcMode.COOL, room_temp_c=26.0, supply_temp_c=14.0,
    ...     outdoor_temp_c=33.0, indoor_coil_temp_c=10.0, outdoor_coil_temp_c=45.0,
    ...     suction_temp_c=15.0, discharge_temp_c=75.0, compressor_hz=50.0,
    ...     compressor_current_a=5.0, eev_steps=200.0, indoor_fan_rpm=1000.0,
    ...     outdoor_fan_rpm=800.0)
    >>> derived(r, AcMode.COOL, 50.0)[:4]
    [5.0, 12.0, 16.0, 12.0]
    """
    room = _f(r.room_temp_c)
    supply = _f(r.supply_temp_c)
    outdoor = _f(r.outdoor_temp_c)
    coil_in = _f(r.indoor_coil_temp_c)
    coil_out = _f(r.outdoor_coil_temp_c)
    suction = _f(r.suction_temp_c)
    if mode is AcMode.COOL:
        superheat = suction - coil_in
        condensing = coil_out - outdoor
        evaporator = room - coil_in
        air_dt = room - supply
    else:  # heating: the indoor coil condenses, the outdoor coil evaporates
        superheat = suction - coil_out
        condensing = coil_in - room
        evaporator = outdoor - coil_out
        air_dt = supply - room
    current = _f(r.compressor_current_a)
    indoor_fan = _f(r.indoor_fan_rpm)
    return [
        superheat,
        condensing,
        evaporator,
        air_dt,
        _f(r.discharge_temp_c),
        current / hz,
        _f(r.eev_steps),
        _f(r.outdoor_fan_rpm),
        indoor_fan,
        air_dt * indoor_fan / 1000.0 / hz,
        hz,
    ]


def _f(value: float | None) -> float:
    return NAN if value is None else value


def stuck_samples(moves: float) -> int:
    """Repeats of one reading that make a thermistor stuck, given how often it changes.

    >>> stuck_samples(0.0), stuck_samples(0.7), stuck_samples(0.94)
    (22, 20, 10)
    """
    repeats = 1.0 - moves
    if repeats >= 1.0:
        return STUCK_MAX_SAMPLES
    if repeats <= 0.0:
        return STUCK_MIN_SAMPLES
    need = math.ceil(math.log(STUCK_CHANCE) / math.log(repeats))
    return max(STUCK_MIN_SAMPLES, min(STUCK_MAX_SAMPLES, need))


def _median(values: list[float]) -> float:
    clean = sorted(v for v in values if not math.isnan(v))
    if not clean:
        return NAN
    mid = len(clean) // 2
    return clean[mid] if len(clean) % 2 else 0.5 * (clean[mid - 1] + clean[mid])


#: The shipped thresholds (tuning choices on the simulated fleets; see ``KindTuning``).
TUNING = KindTuning(
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
)


class AcFeatures:
    """Per-sample AC logic; state lives in the device's array, models in the judge."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def on_event(self, state: AcState, event: EventBase, ts: float) -> list[Signal] | None:
        """An AC sends no event of its own to judge (``APPLIANCE.events`` is empty)."""
        return []

    def on_sample(self, state: AcState, r: AcReadings, ts: float, gap: float) -> list[Signal]:
        mode = r.mode
        hz = r.compressor_hz or 0.0
        if hz <= 0.0:
            state.compressor_stopped_ts = ts
            stop_start = state.stop_start
            if math.isnan(stop_start):
                stop_start = state.stop_start = ts
        else:
            stop_start = state.stop_start = NAN
        if mode not in _MODE_CODE or hz <= 0.0:
            v = state.v
            for at, value in _NOT_RUNNING:
                v[at] = value
            if mode is None or mode is AcMode.OFF:
                # Off, readings are followed but repeats not counted: a room holds its
                # temperature for hours. A stop or a start shows whether the compressor
                # moves the pipes (``RUN_MOVE_S``).
                counted = 0
            elif hz <= 0.0:
                # Waiting on its thermostat, drying or fanning, the unit still reads every
                # thermistor, and a room or supply probe that sticks through hours of
                # idling or drying is named then, not in the next run. The pipes settle
                # to the air around them, which at night holds to a tenth of a kelvin for
                # half an hour, as long as a stuck reading's repeats take: theirs are
                # judged by the stop and the next start.
                counted = FIRST_PIPE
            else:
                counted = len(THERMISTORS)
            frozen = self._stuck(
                state, r, ts, running=hz > 0.0, counted=counted, stop_start=stop_start
            )
            return self._hard(state, Fault.SENSOR_FAULT, ts, frozen) if frozen else []
        code = _MODE_CODE[mode]
        run_start = state.run_start
        if math.isnan(run_start) or gap > MAX_GAP_S or state.prev_mode != code:
            run_start = state.run_start = ts
            state.window_n = 0.0
            state.prev_mode = code
            state.regime = mode.value
        running_s = ts - run_start
        setpoint = _f(r.setpoint_c)
        steady = (
            running_s >= STARTUP_S
            and abs(hz - state.prev_hz) <= HZ_STEP
            and (setpoint == state.prev_setpoint or math.isnan(setpoint))
        )
        state.prev_hz = hz
        state.prev_setpoint = setpoint
        signals: list[Signal] = []
        signals.extend(self._hard_rules(state, r, mode, ts, started=running_s >= 120.0))
        if mode is AcMode.HEAT:
            room = _f(r.room_temp_c)
            coil_in = _f(r.indoor_coil_temp_c)
            fan = _f(r.outdoor_fan_rpm)
            if fan < FAN_STOPPED_RPM or coil_in < room:  # reverse-cycle defrost
                state.defrost_until = ts + STARTUP_S
        if not steady or ts < state.defrost_until:
            return signals
        row = derived(r, mode, hz)
        n = int(state.window_n)
        if n == 0:
            state.window_start = ts
        v = state.v
        at = LAYOUT.buffer_at + n * COLUMNS
        for i, value in enumerate(row):
            v[at + i] = value
        v[at + N_SIGNALS] = _f(r.outdoor_temp_c)
        v[at + N_SIGNALS + 1] = _f(r.room_temp_c)
        v[at + N_SIGNALS + 2] = hz
        v[at + N_SIGNALS + 3] = setpoint
        n += 1
        state.window_n = float(n)
        if n >= WINDOW_SAMPLES or (n >= 3 and ts - state.window_start >= WINDOW_S):
            state.window_n = 0.0
            signals.extend(self._close_window(state, n, ts))
        return signals

    def _close_window(self, state: AcState, n: int, ts: float) -> list[Signal]:
        v = state.v
        base = LAYOUT.buffer_at
        medians = [
            _median([v[base + row * COLUMNS + col] for row in range(n)]) for col in range(COLUMNS)
        ]
        y = medians[:N_SIGNALS]
        outdoor, room, hz, setpoint = medians[N_SIGNALS:]
        if math.isnan(outdoor) or math.isnan(room):
            return []
        load = 0.0 if math.isnan(setpoint) else (room - setpoint) / 3.0
        to = (outdoor - 25.0) / 10.0
        tr = (room - 25.0) / 5.0
        h = (hz - 50.0) / 30.0
        x = {"c": 1.0, "to": to, "tr": tr, "hz": h, "hz_to": h * to, "hz2": h * h, "ld": load}
        x_external = {"c": 1.0, "to": to, "tr": tr, "ld": load, "to2": to * to}
        hard = self._hard_active(state, ts)
        # Were the room probe reading 1 K high, the conditions would read so (see
        # signatures.ROOM_PROBE): the room-probe pattern is scored by its full response.
        direct = ROOM_PROBE.get(state.regime)
        room_probe = None
        if direct is not None:
            shifted = dict(x, tr=tr + 0.2, ld=load if math.isnan(setpoint) else load + 1.0 / 3.0)
            room_probe = (shifted, direct)
        return self.judge.score_window(
            state=state,
            kind=Kind.AC,
            regime=state.regime,
            x=x,
            x_external=x_external,
            y=y,
            ts=ts,
            hard=hard,
            room_probe=room_probe,
        )

    def _hard_active(self, state: AcState, ts: float) -> dict[Fault, float]:
        """The direct rules holding at a window close (which comes only while running)."""
        active: dict[Fault, float] = {}
        if not math.isnan(state.fan_low_since):
            active[Fault.OUTDOOR_FAN_FAILURE] = HARD_SCORE
        stuck = any(
            self._held_too_long(state, i, ts, running=True) for i in range(len(THERMISTOR_SLOTS))
        )
        if stuck or not math.isnan(state.impossible_since):
            active[Fault.SENSOR_FAULT] = HARD_SCORE
        return active

    def _hard_rules(
        self,
        state: AcState,
        r: AcReadings,
        mode: AcMode,
        ts: float,
        *,
        started: bool,
    ) -> list[Signal]:
        """Direct rules for sudden faults.

        The fan and impossible-reading rules wait out the first two minutes of a run (a
        fan spinning up, coils not yet apart); a stuck thermistor counts every running
        sample: a unit that short-cycles runs 20 minutes at a time, about the repeats a
        stuck reading needs, and a reading left uncounted at each start would be named
        only a run later.
        """
        out: list[Signal] = []
        fan = _f(r.outdoor_fan_rpm)
        if started and mode is AcMode.COOL and fan < FAN_STOPPED_RPM:
            since = state.fan_low_since
            if math.isnan(since):
                state.fan_low_since = ts
            elif ts - since >= HARD_HOLD_S:
                expected = state.v[_EXPECTED_FAN]
                out.extend(
                    self._hard(
                        state,
                        Fault.OUTDOOR_FAN_FAILURE,
                        ts,
                        (
                            Evidence(
                                signal="outdoor_fan_rpm",
                                baseline=round(expected, 1) if not math.isnan(expected) else 0.0,
                                observed=fan,
                                unit="rpm",
                            ),
                        ),
                    )
                )
        elif started:
            state.fan_low_since = NAN
        frozen = list(self._stuck(state, r, ts, running=True))
        if started:
            impossible = self._impossible(r, mode)
            if impossible is None:
                state.impossible_since = NAN
            elif math.isnan(state.impossible_since):
                state.impossible_since = ts
            elif ts - state.impossible_since >= HARD_HOLD_S:
                frozen.append(impossible)
        if frozen:
            out.extend(self._hard(state, Fault.SENSOR_FAULT, ts, tuple(frozen)))
        return out

    def _stuck(
        self,
        state: AcState,
        r: AcReadings,
        ts: float,
        *,
        running: bool,
        counted: int = len(THERMISTORS),
        stop_start: float = NAN,
    ) -> tuple[Evidence, ...]:
        """Thermistors whose reading has repeated for longer than their changes allow.

        Follows each thermistor's hold (when its reading last changed), counts the
        repeats of the first ``counted`` (``THERMISTORS`` lists the air probes first),
        and learns, while the compressor runs, how often each reading changes;
        ``_held_too_long`` judges a counted hold, ``_unmoved_by_stop`` a pipe's while
        the compressor is stopped (since ``stop_start``).
        """
        v = state.v
        frozen: list[Evidence] = []
        for i, (name, at_value, at_repeats, at_since, at_moves) in enumerate(THERMISTOR_SLOTS):
            value = getattr(r, name)
            if value is None:
                continue
            same = value == v[at_value]
            if running:
                v[at_moves] += STUCK_RATE_ALPHA * ((0.0 if same else 1.0) - v[at_moves])
            if same:
                if i < counted:
                    v[at_repeats] += 1
                    stuck = self._held_too_long(state, i, ts, running=running)
                else:
                    stuck = not running and self._unmoved_by_stop(state, i, r, ts, stop_start)
                if stuck:
                    frozen.append(
                        Evidence(
                            signal=f"{name}_change",
                            baseline=round(v[at_repeats], 0),
                            observed=0.0,
                            unit="samples unchanged",
                        )
                    )
            else:
                v[at_value] = value
                v[at_repeats] = 0.0
                v[at_since] = ts
        return tuple(frozen)

    @staticmethod
    def _held_too_long(state: AcState, i: int, ts: float, *, running: bool) -> bool:
        """Whether thermistor ``i``'s current hold makes it stuck at ``ts``.

        The change rate is learned, and judges, while the compressor runs. With it
        stopped, a suction or discharge pipe settles to the air around it and holds a
        value as a room probe does, longer than its running rate allows (a reading that
        changes in most running samples may hold for a dozen idle ones): repeats still
        count, against the longest a new unit is allowed. A hold that began before the
        current run keeps that bar once the compressor starts: the settled pipe reads the
        same for the first samples of the run, and its idle repeats are no evidence
        against the running rate. But a coil or pipe reading held since the compressor
        was stopped and unmoved after ``RUN_MOVE_S`` of running is stuck whatever the
        count.
        """
        _, _, at_repeats, at_since, at_moves = THERMISTOR_SLOTS[i]
        v = state.v
        since = v[at_since]
        judged_running = False
        if running:
            run_start = state.run_start
            if (
                i >= FIRST_PIPE
                and since <= state.compressor_stopped_ts < run_start
                and ts - run_start >= RUN_MOVE_S
            ):
                return True
            judged_running = not since < run_start
        need = stuck_samples(v[at_moves]) if judged_running else STUCK_MAX_SAMPLES
        return v[at_repeats] >= need and ts - since >= STUCK_HOLD_S

    @staticmethod
    def _unmoved_by_stop(
        state: AcState, i: int, r: AcReadings, ts: float, stop_start: float
    ) -> bool:
        """Whether pipe ``i``, held since before the compressor stopped, has not moved.

        A healthy pipe heads for the air around it (the room's for the indoor coil, the
        outdoor air for the rest) as soon as the compressor stops; one still more than
        ``STOP_APART_K`` from that air and unchanged ``RUN_MOVE_S`` into the stop is
        stuck. The distance keeps a pipe that ran at the air's temperature from counting.
        """
        if i < FIRST_PIPE:
            return False
        slot = THERMISTOR_SLOTS[i]
        if not (state.v[slot.since] < stop_start and ts - stop_start >= RUN_MOVE_S):
            return False
        air = r.room_temp_c if slot.name == "indoor_coil_temp_c" else r.outdoor_temp_c
        return air is not None and abs(state.v[slot.value] - air) > STOP_APART_K

    @staticmethod
    def _impossible(r: AcReadings, mode: AcMode) -> Evidence | None:
        for name in THERMISTORS:
            value = getattr(r, name)
            if value is not None and not -45.0 <= value <= 140.0:
                return Evidence(signal=name, baseline=25.0, observed=value, unit="°C")
        if mode is AcMode.COOL:
            room = _f(r.room_temp_c)
            supply = _f(r.supply_temp_c)
            if supply - room > 3.0:
                return Evidence(
                    signal="air_delta_t_k", baseline=8.0, observed=room - supply, unit="K"
                )
            superheat = _f(r.suction_temp_c) - _f(r.indoor_coil_temp_c)
            if superheat < -4.0:
                return Evidence(signal="superheat_k", baseline=5.0, observed=superheat, unit="K")
        return None

    def _hard(
        self, state: DeviceState, fault: Fault, ts: float, evidence: tuple[Evidence, ...]
    ) -> list[Signal]:
        finding: Finding | None = self.judge.hard_finding(state, Kind.AC, fault, ts, evidence)
        return [finding] if finding is not None else []


#: The AC as the registry knows it: its compressor speed is the controller's response.
APPLIANCE: ApplianceKind[AcState, AcReadings] = ApplianceKind(
    kind=Kind.AC,
    readings=AcReadings,
    events=(),
    layout=LAYOUT,
    tuning=TUNING,
    external=frozenset({HZ}),
    features=AcFeatures,
)
