"""Washer samples to per-cycle signals, plus the open-heater and stuck-probe rules.

A washer's faults show cycle by cycle, so the unit of judgement is one cycle: while it
runs, telemetry accumulates the heating ramp (K/min while ``heater_on``), the heater's
power step, the drum's rpm shortfall, vibration and motor current at top spin and at low
and medium spin, drain pump current and any ``x_`` vibration features; the ``cycle_end``
event adds fill and drain time, final spin rpm, vibration and unbalance retries. The
cycle's conditions (program, load, inlet water temperature, target temperature, spin
target) select and feed the cohort baseline.

Sudden rules: minutes of ``heater_on`` without the water warming is an open element
when the ~2 kW heater step is missing from the power, and a stuck temperature probe when
the power is there; a reading that stays put while the element draws
its step is a stuck probe at once, however short the heating, and so is one that reads
the same through a cold wash and the rinse water after it. Washing or heating with the
level probe reading an empty drum is a level probe fault.

The module's :data:`APPLIANCE` is what the registry (:mod:`detectors.kinds`) knows of it.
"""

from __future__ import annotations

import math

from detectors.api import Signal
from detectors.judging import FAULT_ORDER, ApplianceKind, Judge, KindTuning
from detectors.signatures import LOG_FLOOR_VALUE, WASHER_SIGNALS
from detectors.state import DeviceState, Layout, Scalar
from edge.contract import (
    CycleEndEvent,
    EventBase,
    Evidence,
    Fault,
    Kind,
    WasherPhase,
    WasherReadings,
)

NAN = float("nan")
NEW_CYCLE_GAP_S = 1800.0
HEATER_HOLD_S = 900.0
#: Water this far below its target must warm while the heater is on. Near the target a
#: washer may hold the temperature (the reading can even sag as the load soaks up heat);
#: a healthy element warms 1-1.5 K a minute, so 15 minutes without 0.5 K of rise is no
#: holding. The margin must stay small: a wool or quick wash from warm tap water starts
#: only 5-7 K below its target, and an open element there would run to the appliance's
#: own heating timeout before it was named.
HEATER_COLD_MARGIN_K = 1.5
HEATER_MIN_RISE_K = 0.5
#: A heating that ends sooner is judged when it ends: the washer heats by the water's
#: true temperature, so a short heating (tap water a few kelvin below a cool program's
#: target) stops after minutes; a probe stuck low reads flat through it, and the
#: quarter-hour bar would wait days for a hot program. Three minutes of a healthy
#: element is 3 K or more.
HEATER_SHORT_S = 180.0
HEATER_STEP_W = 800.0
#: A probe whose reading does not move while the element puts this much heat into the
#: water is stuck: the drum's water, load and steel take at most ~140 kJ per kelvin (22 L
#: for a full 9 kg load), so by then the water warmed 1 K or more, ten steps of a 0.1 K
#: reading and two of a 0.5 K one; a 2 kW element gets there in 70 s. The rise rules
#: wait for three minutes of heating, and a summer wool wash heats warm tap water to 30 °C
#: in two and a half: a household that washes so would never meet them.
PROBE_FLAT_J = 140_000.0
#: Below its target by less than this, heated water may read flat: the element is
#: holding it there (looser than ``HEATER_COLD_MARGIN_K``: a flat reading is no sag).
PROBE_FLAT_MARGIN_K = 0.5
#: A cold wash shows a stuck probe too: the water drifts towards the room's temperature
#: while the drum turns (a tenth of a kelvin in minutes), and the rinse lets in water from
#: the mains. A reading that did not move through this much washing nor through the
#: rinse fill after it, but for one-sample glitches, comes from a stuck probe.
PROBE_FLAT_WASH_S = 600.0
PROBE_GLITCHES = 2
LOW_SPIN_MIN_RPM = 150.0
LOW_SPIN_MAX_RPM = 600.0
TOP_SPIN_MIN_RPM = 400.0
LEVEL_EMPTY_MM = 5.0
LEVEL_HOLD_S = 180.0
FILL_STUCK_S = 300.0
FILL_STUCK_RANGE_MM = 8.0
WASH_LEVEL_GLITCH_MM = 15.0


class WasherState(DeviceState):
    """A washer's state: its own scalars after the common ones, mostly the cycle's sums."""

    __slots__ = ()
    #: The cycle's first sample (NaN between a ``cycle_end`` and the next cycle).
    cycle_start = Scalar()
    #: The heating under way: its start, first (median of three) and latest readings.
    heat_start = Scalar()
    heat_start_temp = Scalar()
    heat_last_ts = Scalar()
    heat_last_temp = Scalar()
    heat_prev1_temp = Scalar()
    heat_prev2_temp = Scalar()
    heat_n = Scalar()
    #: The cycle's heating so far: minutes and kelvin of rise (the ramp's numerator).
    heat_minutes = Scalar()
    heat_rise = Scalar()
    #: The heating's power readings, summed, and the drum's own draw without the heater.
    heat_power_sum = Scalar()
    heat_power_n = Scalar()
    base_power = Scalar()
    #: The cycle's conditions: coldest fill water, highest target, load.
    inlet_temp = Scalar()
    target_temp = Scalar()
    load = Scalar()
    #: The previous commanded drum speed and the cycle's highest.
    prev_target_rpm = Scalar()
    max_target_rpm = Scalar()
    #: Running sums and counts of the cycle's motion and pump signals.
    rpm_short_sum = Scalar()
    rpm_short_n = Scalar()
    spin_vib_sum = Scalar()
    spin_vib_n = Scalar()
    spin_cur_sum = Scalar()
    low_vib_sum = Scalar()
    low_vib_n = Scalar()
    pump_sum = Scalar()
    pump_n = Scalar()
    kurt_sum = Scalar()
    kurt_n = Scalar()
    #: Seconds of filling and draining counted from samples (when ``cycle_end`` omits them).
    fill_s = Scalar()
    drain_s = Scalar()
    #: The previous sample's phase (``_PHASES``; -1 unknown).
    prev_phase = Scalar()
    #: The last ``cycle_end`` taken (an older or repeated one is late).
    last_cycle_ts = Scalar()
    #: Since when the level read an empty drum while washing or heating.
    level_low_since = Scalar()
    #: The level's range during this cycle's fill.
    fill_level_min = Scalar()
    fill_level_max = Scalar()
    #: The fault a direct rule named this cycle (``FAULT_ORDER`` position + 1; 0 none).
    rule_fault = Scalar()
    #: The level summed while spinning and while washing.
    spin_level_sum = Scalar()
    spin_level_n = Scalar()
    wash_level_sum = Scalar()
    wash_level_n = Scalar()
    #: The flat-probe rule's current reading and since when it held.
    heat_flat_temp = Scalar()
    heat_flat_since = Scalar()
    #: The still-probe rule: the held reading, differing readings forgiven, seconds of
    #: washing it held through, and whether a rinse fill followed.
    probe_temp = Scalar()
    probe_odd = Scalar()
    probe_wash_s = Scalar()
    probe_refill = Scalar()


LAYOUT = Layout.of(WasherState, len(WASHER_SIGNALS), len(FAULT_ORDER[Kind.WASHER]))
#: What a new cycle starts from: (slot, value) for every washer scalar but the drum's own
#: power draw and the last ``cycle_end`` (which outlive cycles); times, temperatures and
#: ranges unknown (NaN), sums and counts zero.
_CYCLE_RESET = tuple(
    (
        WasherState.index(name),
        NAN if name.endswith(("_start", "_ts", "_temp", "_since", "_min", "_max")) else 0.0,
    )
    for name in WasherState.NAMES[len(DeviceState.NAMES) :]
    if name not in ("base_power", "last_cycle_ts")
)
#: The shipped thresholds (tuning choices on the simulated fleets; see ``KindTuning``).
TUNING = KindTuning(
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
)
_PHASES = {phase: float(i) for i, phase in enumerate(WasherPhase)}
_FILL = _PHASES[WasherPhase.FILL]
_DRAIN = _PHASES[WasherPhase.DRAIN]


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN unless the denominator is > 0 (NaN stays NaN)."""
    return numerator / denominator if denominator > 0 else NAN


def _mean(total: float, n: float) -> float:
    """A mean from its running sum and count; NaN when nothing was counted."""
    return _ratio(total, n)


class WasherFeatures:
    """Per-sample and per-cycle washer logic; state lives in the device's array."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    @staticmethod
    def _reset_cycle(state: WasherState, ts: float) -> None:
        v = state.v
        for at, value in _CYCLE_RESET:
            v[at] = value
        state.cycle_start = ts
        state.heat_start = NAN
        state.inlet_temp = NAN

    def on_sample(
        self, state: WasherState, r: WasherReadings, ts: float, gap: float
    ) -> list[Signal]:
        if math.isnan(state.cycle_start) or gap > NEW_CYCLE_GAP_S:
            self._reset_cycle(state, ts)
        phase = _PHASES.get(r.phase, -1.0) if r.phase is not None else -1.0
        prev_phase = state.prev_phase
        step = min(gap, 120.0) if prev_phase == phase else 0.0
        state.prev_phase = phase
        temp = r.water_temp_c
        power = r.power_w
        if r.load_kg is not None:
            state.load = r.load_kg
        if r.target_temp_c is not None and not r.target_temp_c <= state.target_temp:
            state.target_temp = r.target_temp_c
        signals: list[Signal] = []
        if phase == _FILL:
            state.fill_s += step
            signals.extend(self._fill_rule(state, r, ts))
            if temp is not None and not temp >= state.inlet_temp:
                state.inlet_temp = temp
        elif phase == _DRAIN:
            state.drain_s += step
            if r.drain_pump_current_a is not None and r.drain_pump_current_a > 0.02:
                state.pump_sum += r.drain_pump_current_a
                state.pump_n += 1
        # Only the heat phase: while filling, cold inflow hides the heater's work.
        if r.heater_on and temp is not None and phase == _PHASES[WasherPhase.HEAT]:
            if math.isnan(state.heat_start):
                state.heat_start = ts
                state.heat_start_temp = temp
                state.heat_power_sum = 0.0
                state.heat_power_n = 0.0
                state.heat_n = 0.0
                state.heat_flat_temp = NAN
            state.heat_last_ts = ts
            state.heat_prev2_temp = state.heat_prev1_temp
            state.heat_prev1_temp = state.heat_last_temp
            state.heat_last_temp = temp
            state.heat_n += 1
            if state.heat_n == 3:
                # The first three readings, not the first alone: one glitch on the probe
                # must not become the temperature the heating started from.
                state.heat_start_temp = self._probe_temp(state)
            if power is not None:
                state.heat_power_sum += power
                state.heat_power_n += 1
            if state.heat_n >= 3:
                signals.extend(self._flat_probe_rule(state, ts))
            if ts - state.heat_start >= HEATER_HOLD_S:
                signals.extend(self._heater_rule(state, self._probe_temp(state), ts))
        else:
            started = state.heat_start
            if HEATER_SHORT_S <= state.heat_last_ts - started < HEATER_HOLD_S:
                signals.extend(self._heater_rule(state, self._probe_temp(state), ts))
            self._close_heating(state)
            if (
                power is not None
                and not r.heater_on
                and phase in (_PHASES[WasherPhase.WASH], _PHASES[WasherPhase.HEAT])
            ):
                base = state.base_power
                state.base_power = power if math.isnan(base) else base + 0.3 * (power - base)
        if phase == _PHASES[WasherPhase.WASH] and r.water_level_mm is not None:
            self._wash_level(state, r.water_level_mm)
        if phase == _PHASES[WasherPhase.SPIN] and r.water_level_mm is not None:
            state.spin_level_sum += r.water_level_mm
            state.spin_level_n += 1
        signals.extend(self._level_rule(state, r, phase, ts))
        if temp is not None:
            signals.extend(
                self._still_probe_rule(
                    state, temp, phase=phase, prev_phase=prev_phase, step=step, ts=ts
                )
            )
        self._motion(state, r, phase)
        return signals

    @staticmethod
    def _wash_level(state: WasherState, level: float) -> None:
        """Average the level while washing: the drum holds what the fill put in for the load.

        A washer fills by volume for its load, so the level it washes at follows the load
        (the cohort learns how); a probe drifting low moves this and nothing physical, and
        the drained-drum reading cannot show it (a level reads zero at the lowest). A
        reading far above the running mean is a one-sample glitch (a bubble at the pressure
        sensor) and is left out.
        """
        n = state.wash_level_n
        if n >= 3 and level > state.wash_level_sum / n + WASH_LEVEL_GLITCH_MM:
            return
        state.wash_level_sum += level
        state.wash_level_n = n + 1

    def _level_rule(
        self, state: WasherState, r: WasherReadings, phase: float, ts: float
    ) -> list[Signal]:
        """Washing or heating an empty drum is impossible: the level probe reads wrong.

        (Heating too: a hot program heats for half an hour before its wash phase, and a
        level probe stuck at the empty drum of the cycle's start waited for it.)
        """
        level = r.water_level_mm
        wet = phase in (_PHASES[WasherPhase.WASH], _PHASES[WasherPhase.HEAT])
        if not wet or level is None or level >= LEVEL_EMPTY_MM:
            state.level_low_since = NAN
            return []
        if math.isnan(state.level_low_since):
            state.level_low_since = ts
            return []
        if ts - state.level_low_since < LEVEL_HOLD_S:
            return []
        evidence = (Evidence(signal="water_level_mm", baseline=60.0, observed=level, unit="mm"),)
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _fill_rule(self, state: WasherState, r: WasherReadings, ts: float) -> list[Signal]:
        """Filling for minutes while the level reading does not rise: a stuck level probe."""
        level = r.water_level_mm
        if level is None:
            return []
        low, high = state.fill_level_min, state.fill_level_max
        state.fill_level_min = level if math.isnan(low) else min(low, level)
        state.fill_level_max = level if math.isnan(high) else max(high, level)
        spread = state.fill_level_max - state.fill_level_min
        if state.fill_s < FILL_STUCK_S or spread >= FILL_STUCK_RANGE_MM:
            return []
        evidence = (
            Evidence(
                signal="water_level_rise_mm", baseline=80.0, observed=round(spread, 1), unit="mm"
            ),
        )
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _rule_finding(
        self,
        state: WasherState,
        fault: Fault,
        ts: float,
        evidence: tuple[Evidence, ...],
    ) -> list[Signal]:
        """A direct rule holds: remember it for this cycle (no recovery while it does)."""
        state.rule_fault = float(FAULT_ORDER[Kind.WASHER].index(fault) + 1)
        finding = self.judge.hard_finding(state, Kind.WASHER, fault, ts, evidence)
        return [finding] if finding is not None else []

    @staticmethod
    def _motion(state: WasherState, r: WasherReadings, phase: float) -> None:
        target = r.target_rpm
        drum = r.drum_rpm
        if target is None or drum is None or target < 30.0:
            state.prev_target_rpm = target if target is not None else 0.0
            return
        vib = r.vibration_rms_g
        if (
            phase == _PHASES[WasherPhase.SPIN]
            and vib is not None
            and LOW_SPIN_MIN_RPM <= drum <= LOW_SPIN_MAX_RPM
            and target != state.prev_target_rpm
        ):
            # Spin-up through the suspension's resonance (a few hundred rpm): worn dampers
            # show here first, whatever the program's top speed. Only the ramp counts (the
            # commanded speed still rising): a program that holds a low spin would otherwise
            # mix its top speed in.
            state.low_vib_sum += vib
            state.low_vib_n += 1
        steady = target == state.prev_target_rpm
        state.prev_target_rpm = target
        if target > state.max_target_rpm:
            # A higher spin than any so far this cycle: the top-spin figures start over, so
            # they describe the cycle's final spin whatever the program's top speed is.
            state.max_target_rpm = target
            state.spin_vib_sum = 0.0
            state.spin_vib_n = 0.0
            state.spin_cur_sum = 0.0
            state.kurt_sum = 0.0
            state.kurt_n = 0.0
        if not steady:
            return
        state.rpm_short_sum += (target - drum) / target
        state.rpm_short_n += 1
        if phase != _PHASES[WasherPhase.SPIN] or vib is None or abs(drum - target) > 0.15 * target:
            return
        if target == state.max_target_rpm and target >= TOP_SPIN_MIN_RPM:
            state.spin_vib_sum += vib
            state.spin_vib_n += 1
            if r.motor_current_a is not None:
                state.spin_cur_sum += r.motor_current_a
            kurt = r.extra_features().get("x_vibration_kurtosis")
            if kurt is not None:
                state.kurt_sum += kurt
                state.kurt_n += 1

    def _close_heating(self, state: WasherState) -> None:
        start = state.heat_start
        if math.isnan(start):
            return
        minutes = (state.heat_last_ts - start) / 60.0
        if state.heat_n >= 3:
            # The rise runs between the medians of the first three and of the last three
            # readings: on a steady rise the second and the second-to-last, n - 3 of the
            # n - 1 sample intervals apart. Timed over the whole span instead, a short
            # heating read slow by two intervals in its length (a 30 °C wash of water let
            # in at 26 °C heats for three minutes: 10% slow, where a 60 °C wash read 1%), and
            # as the inlet water warms through the summer and heatings shorten, a healthy
            # washer's ramp drifts slow by several sigma into a heater order.
            minutes *= (state.heat_n - 3.0) / (state.heat_n - 1.0)
        state.heat_last_temp = self._probe_temp(state)
        if minutes > 0:
            state.heat_minutes += minutes
            state.heat_rise += state.heat_last_temp - state.heat_start_temp
        state.heat_start = NAN

    @staticmethod
    def _probe_temp(state: WasherState) -> float:
        """The water temperature now: the median of the probe's last three heating readings.

        One glitched sample (a reading of 20 °C among readings of 35 °C) otherwise looks
        like water that never warmed, and a slowly heating element like a stuck probe.
        """
        last = state.heat_last_temp
        if state.heat_n < 3:
            return last
        a, b = state.heat_prev1_temp, state.heat_prev2_temp
        return max(min(a, b), min(max(a, b), last))  # the median of the three

    @staticmethod
    def _heater_step(state: WasherState) -> float:
        """The heating's mean power above the drum's own draw: the element's share."""
        return _mean(state.heat_power_sum, state.heat_power_n) - state.base_power

    def _flat_probe_rule(self, state: WasherState, ts: float) -> list[Signal]:
        """The element draws its power, the water is below its target, the reading is flat.

        Judged on the median of the last three readings, so one glitch neither starts
        nor breaks a flat stretch.
        """
        temp = self._probe_temp(state)
        if temp != state.heat_flat_temp:
            state.heat_flat_temp = temp
            state.heat_flat_since = ts
            return []
        if not temp < state.target_temp - PROBE_FLAT_MARGIN_K:
            return []
        step = self._heater_step(state)
        held = ts - state.heat_flat_since
        if not step >= HEATER_STEP_W or step * held < PROBE_FLAT_J:
            return []
        minutes = (ts - state.heat_start) / 60.0
        evidence = (
            Evidence(
                signal="heat_ramp_k_per_min",
                baseline=1.0,
                observed=round((temp - state.heat_start_temp) / minutes, 3),
                unit="K/min",
            ),
            Evidence(signal="heater_power_w", baseline=2000.0, observed=round(step, 1), unit="W"),
        )
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _still_probe_rule(
        self,
        state: WasherState,
        temp: float,
        *,
        phase: float,
        prev_phase: float,
        step: float,
        ts: float,
    ) -> list[Signal]:
        """The same reading through ``PROBE_FLAT_WASH_S`` of washing and the refill after it.

        The stretch follows the reading across the phases of one cycle; ``PROBE_GLITCHES``
        differing readings are forgiven (a one-sample spike), one more starts it anew.
        """
        if temp != state.probe_temp:
            state.probe_odd += 1
            if math.isnan(state.probe_temp) or state.probe_odd > PROBE_GLITCHES:
                state.probe_temp = temp
                state.probe_odd = 0.0
                state.probe_wash_s = 0.0
                state.probe_refill = 0.0
            return []
        if phase == _PHASES[WasherPhase.WASH]:
            state.probe_wash_s += step
        elif phase == _FILL and state.probe_wash_s >= PROBE_FLAT_WASH_S:
            state.probe_refill = 1.0
        refilled = state.probe_refill and prev_phase == _FILL and phase != _FILL
        if not refilled:
            return []
        evidence = (
            Evidence(
                signal="water_temp_c_change",
                baseline=0.1,
                observed=0.0,
                unit="K through a wash and a rinse fill",
            ),
        )
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _heater_rule(self, state: WasherState, temp: float, ts: float) -> list[Signal]:
        rise = temp - state.heat_start_temp
        # Only water well below its target must warm: near the target a healthy washer
        # holds the temperature, and the reading may even sag as the load soaks up heat.
        if rise >= HEATER_MIN_RISE_K or not temp < state.target_temp - HEATER_COLD_MARGIN_K:
            return []
        step = self._heater_step(state)
        minutes = (ts - state.heat_start) / 60.0
        evidence = [
            Evidence(
                signal="heat_ramp_k_per_min",
                baseline=1.0,
                observed=round(rise / minutes, 3),
                unit="K/min",
            )
        ]
        if not math.isnan(step):
            evidence.append(
                Evidence(
                    signal="heater_power_w", baseline=2000.0, observed=round(step, 1), unit="W"
                )
            )
        fault = Fault.SENSOR_FAULT if step >= HEATER_STEP_W else Fault.HEATER_FAILURE
        return self._rule_finding(state, fault, ts, tuple(evidence))

    def on_event(self, state: WasherState, event: EventBase, ts: float) -> list[Signal] | None:
        """A ``cycle_end``: judge the cycle. ``None`` when it is late (older than the last
        one taken, or no cycle ran since), which the fleet counts."""
        if not isinstance(event, CycleEndEvent):
            return []
        return self.on_cycle_end(state, event, ts)

    def on_cycle_end(
        self, state: WasherState, event: CycleEndEvent, ts: float
    ) -> list[Signal] | None:
        """The cycle's signals from its sums and the event's summary, judged as one window."""
        if ts <= state.last_cycle_ts or math.isnan(state.cycle_start):
            return None
        state.last_cycle_ts = ts
        self._close_heating(state)
        d = event.data
        heat_minutes = state.heat_minutes
        ramp = state.heat_rise / heat_minutes if heat_minutes >= 2.0 else NAN
        heat_step = self._heater_step(state)
        if heat_minutes < 2.0:
            heat_step = NAN
        fill = _f(d.fill_time_s) if d.fill_time_s is not None else _nz(state.fill_s)
        per_litre = _log(_ratio(fill, _f(d.water_l)))
        y = [
            _log(fill) if math.isnan(per_litre) else NAN,
            _log(_f(d.drain_time_s) if d.drain_time_s is not None else _nz(state.drain_s)),
            _log(ramp),
            _mean(state.rpm_short_sum, state.rpm_short_n),
            _mean(state.spin_vib_sum, state.spin_vib_n),
            _mean(state.low_vib_sum, state.low_vib_n),
            float(d.unbalance_retries) if d.unbalance_retries is not None else NAN,
            _mean(state.pump_sum, state.pump_n),
            _mean(state.spin_cur_sum, state.spin_vib_n),
            _f(d.max_spin_rpm),
            _mean(state.kurt_sum, state.kurt_n),
            heat_step,
            _log(
                _ratio(
                    _mean(state.low_vib_sum, state.low_vib_n),
                    _mean(state.spin_vib_sum, state.spin_vib_n),
                )
            ),
            state.heat_last_temp - state.target_temp if heat_minutes >= 2.0 else NAN,
            _mean(state.spin_level_sum, state.spin_level_n),
            _mean(state.wash_level_sum, state.wash_level_n),
            per_litre,
        ]
        load = d.load_kg if d.load_kg is not None else state.load
        inlet = state.inlet_temp
        target_temp = state.target_temp
        spin = state.max_target_rpm
        x = {
            "c": 1.0,
            "load": ((_or(load, 5.0)) - 5.0) / 3.0,
            "inlet": ((_or(inlet, 15.0)) - 15.0) / 10.0,
            "target": ((_or(target_temp, 40.0)) - 40.0) / 30.0,
            "spin": (spin - 1000.0) / 400.0,
            # One cohort per model; the program enters as an indicator feature, so a
            # rarely used program still borrows everything else from the common ones.
            f"program_{d.program or 'unknown'}": 1.0,
        }
        regime = ""
        state.regime = d.program or "unknown"
        state.cycle_start = NAN
        rule = int(state.rule_fault)
        state.rule_fault = 0.0
        if d.error_code is not None:
            return []
        hold = {FAULT_ORDER[Kind.WASHER][rule - 1]: 1.0} if rule else None
        return self.judge.score_window(
            state=state, kind=Kind.WASHER, regime=regime, x=x, x_external=x, y=y, ts=ts, hard=hold
        )


def _f(value: float | None) -> float:
    return NAN if value is None else value


def _or(value: float, default: float) -> float:
    return default if math.isnan(value) else value


def _log(value: float) -> float:
    """Log of a positive duration or rate; a rate of (almost) zero floors at ``LOG_FLOOR``."""
    if math.isnan(value):
        return NAN
    return math.log(max(value, LOG_FLOOR_VALUE))


def _nz(value: float) -> float:
    return value if value > 0 else NAN


#: The washer as the registry knows it: a cycle is judged when its ``cycle_end`` comes.
APPLIANCE: ApplianceKind[WasherState, WasherReadings] = ApplianceKind(
    kind=Kind.WASHER,
    readings=WasherReadings,
    events=(CycleEndEvent,),
    layout=LAYOUT,
    tuning=TUNING,
    external=frozenset(),
    features=WasherFeatures,
)
