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
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

from detectors.api import Signal
from detectors.signatures import LOG_FLOOR_VALUE
from detectors.state import DeviceState
from edge.contract import CycleEndEvent, Evidence, Fault, Kind, WasherPhase, WasherReadings

if TYPE_CHECKING:
    from detectors.fleet import HousecallDetector

NAN = float("nan")
NEW_CYCLE_GAP_S = 1800.0
HEATER_HOLD_S = 900.0
#: Water this far below its target must warm while the heater is on. Near the target a
#: washer may hold the temperature (the reading can even sag as the load soaks up heat);
#: a healthy element warms 1-1.5 K a minute, so 15 minutes without 0.5 K of rise is no
#: holding. (It was 8 K: a wool or quick wash from warm tap water, 5-7 K below its
#: target, ran to the appliance's own 80-minute heating timeout before an open element
#: was named: seeds 701, 802 and 803.)
HEATER_COLD_MARGIN_K = 1.5
HEATER_MIN_RISE_K = 0.5
#: A heating that ends sooner is judged when it ends: the washer heats by the water's
#: true temperature, so a short heating (tap water a few kelvin below a cool program's
#: target) stops after minutes; a probe stuck low read flat through it, and the
#: quarter-hour bar waited for a hot program (seed 1403: a 4 min 50 s heating read 14.0 °C
#: throughout; found 2.6 days later). Three minutes of a healthy element is 3 K or more.
HEATER_SHORT_S = 180.0
HEATER_STEP_W = 800.0
#: A probe whose reading does not move while the element puts this much heat into the
#: water is stuck: the drum's water, load and steel take at most ~140 kJ per kelvin (22 L
#: for a full 9 kg load), so by then the water warmed 1 K or more, ten steps of a 0.1 K
#: reading and two of a 0.5 K one; a 2 kW element gets there in 70 s. The rise rules
#: wait for three minutes of heating, and a summer wool wash heats warm tap water to 30 °C
#: in two and a half (seed 1903: wm-000361's stuck probe went ten days unnamed).
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
SCALARS = (
    "cycle_start",
    "heat_start",
    "heat_start_temp",
    "heat_last_ts",
    "heat_last_temp",
    "heat_prev1_temp",
    "heat_prev2_temp",
    "heat_n",
    "heat_minutes",
    "heat_rise",
    "heat_power_sum",
    "heat_power_n",
    "base_power",
    "inlet_temp",
    "target_temp",
    "load",
    "prev_target_rpm",
    "max_target_rpm",
    "rpm_short_sum",
    "rpm_short_n",
    "spin_vib_sum",
    "spin_vib_n",
    "spin_cur_sum",
    "low_vib_sum",
    "low_vib_n",
    "pump_sum",
    "pump_n",
    "kurt_sum",
    "kurt_n",
    "fill_s",
    "drain_s",
    "prev_phase",
    "last_cycle_ts",
    "level_low_since",
    "fill_level_min",
    "fill_level_max",
    "rule_fault",
    "spin_level_sum",
    "spin_level_n",
    "wash_level_sum",
    "wash_level_n",
    "heat_flat_temp",
    "heat_flat_since",
    "probe_temp",
    "probe_odd",
    "probe_wash_s",
    "probe_refill",
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

    def __init__(self, detector: HousecallDetector) -> None:
        from detectors.fleet import LAYOUTS

        self.detector = detector
        self.s = LAYOUTS[Kind.WASHER.value].scalar

    def _reset_cycle(self, v: array[float], ts: float) -> None:
        s = self.s
        arr = v
        for name in SCALARS:
            if name in ("base_power", "last_cycle_ts"):
                continue
            nan = name.endswith(("_start", "_ts", "_temp", "_since", "_min", "_max"))
            arr[s[name]] = NAN if nan else 0.0
        arr[s["cycle_start"]] = ts
        arr[s["heat_start"]] = NAN
        arr[s["inlet_temp"]] = NAN

    def on_sample(
        self, state: DeviceState, r: WasherReadings, ts: float, gap: float
    ) -> list[Signal]:
        v = state.v
        s = self.s
        if math.isnan(v[s["cycle_start"]]) or gap > NEW_CYCLE_GAP_S:
            self._reset_cycle(v, ts)
        phase = _PHASES.get(r.phase, -1.0) if r.phase is not None else -1.0
        prev_phase = v[s["prev_phase"]]
        step = min(gap, 120.0) if prev_phase == phase else 0.0
        v[s["prev_phase"]] = phase
        temp = r.water_temp_c
        power = r.power_w
        if r.load_kg is not None:
            v[s["load"]] = r.load_kg
        if r.target_temp_c is not None and not r.target_temp_c <= v[s["target_temp"]]:
            v[s["target_temp"]] = r.target_temp_c
        signals: list[Signal] = []
        if phase == _FILL:
            v[s["fill_s"]] += step
            signals.extend(self._fill_rule(state, r, ts))
            if temp is not None and not temp >= v[s["inlet_temp"]]:
                v[s["inlet_temp"]] = temp
        elif phase == _DRAIN:
            v[s["drain_s"]] += step
            if r.drain_pump_current_a is not None and r.drain_pump_current_a > 0.02:
                v[s["pump_sum"]] += r.drain_pump_current_a
                v[s["pump_n"]] += 1
        # Only the heat phase: while filling, cold inflow hides the heater's work.
        if r.heater_on and temp is not None and phase == _PHASES[WasherPhase.HEAT]:
            if math.isnan(v[s["heat_start"]]):
                v[s["heat_start"]] = ts
                v[s["heat_start_temp"]] = temp
                v[s["heat_power_sum"]] = 0.0
                v[s["heat_power_n"]] = 0.0
                v[s["heat_n"]] = 0.0
                v[s["heat_flat_temp"]] = NAN
            v[s["heat_last_ts"]] = ts
            v[s["heat_prev2_temp"]] = v[s["heat_prev1_temp"]]
            v[s["heat_prev1_temp"]] = v[s["heat_last_temp"]]
            v[s["heat_last_temp"]] = temp
            v[s["heat_n"]] += 1
            if v[s["heat_n"]] == 3:
                # The first three readings, not the first alone: one glitch on the probe
                # must not become the temperature the heating started from.
                v[s["heat_start_temp"]] = self._probe_temp(v)
            if power is not None:
                v[s["heat_power_sum"]] += power
                v[s["heat_power_n"]] += 1
            if v[s["heat_n"]] >= 3:
                signals.extend(self._flat_probe_rule(state, ts))
            if ts - v[s["heat_start"]] >= HEATER_HOLD_S:
                signals.extend(self._heater_rule(state, self._probe_temp(v), ts))
        else:
            started = v[s["heat_start"]]
            if HEATER_SHORT_S <= v[s["heat_last_ts"]] - started < HEATER_HOLD_S:
                signals.extend(self._heater_rule(state, self._probe_temp(v), ts))
            self._close_heating(v)
            if (
                power is not None
                and not r.heater_on
                and phase in (_PHASES[WasherPhase.WASH], _PHASES[WasherPhase.HEAT])
            ):
                base = v[s["base_power"]]
                v[s["base_power"]] = power if math.isnan(base) else base + 0.3 * (power - base)
        if phase == _PHASES[WasherPhase.WASH] and r.water_level_mm is not None:
            self._wash_level(v, r.water_level_mm)
        if phase == _PHASES[WasherPhase.SPIN] and r.water_level_mm is not None:
            v[s["spin_level_sum"]] += r.water_level_mm
            v[s["spin_level_n"]] += 1
        signals.extend(self._level_rule(state, r, phase, ts))
        if temp is not None:
            signals.extend(
                self._still_probe_rule(
                    state, temp, phase=phase, prev_phase=prev_phase, step=step, ts=ts
                )
            )
        self._motion(v, r, phase)
        return signals

    def _wash_level(self, v: array[float], level: float) -> None:
        """Average the level while washing: the drum holds what the fill put in for the load.

        A washer fills by volume for its load, so the level it washes at follows the load
        (the cohort learns how); a probe drifting low moves this and nothing physical, and
        the drained-drum reading cannot show it (a level reads zero at the lowest). A
        reading far above the running mean is a one-sample glitch (a bubble at the pressure
        sensor) and is left out.
        """
        s = self.s
        n = v[s["wash_level_n"]]
        if n >= 3 and level > v[s["wash_level_sum"]] / n + WASH_LEVEL_GLITCH_MM:
            return
        v[s["wash_level_sum"]] += level
        v[s["wash_level_n"]] = n + 1

    def _level_rule(
        self, state: DeviceState, r: WasherReadings, phase: float, ts: float
    ) -> list[Signal]:
        """Washing or heating an empty drum is impossible: the level probe reads wrong.

        (Heating too: a hot program heats for half an hour before its wash phase, and a
        level probe stuck at the empty drum of the cycle's start waited for it.)
        """
        v = state.v
        at = self.s["level_low_since"]
        level = r.water_level_mm
        wet = phase in (_PHASES[WasherPhase.WASH], _PHASES[WasherPhase.HEAT])
        if not wet or level is None or level >= LEVEL_EMPTY_MM:
            v[at] = NAN
            return []
        if math.isnan(v[at]):
            v[at] = ts
            return []
        if ts - v[at] < LEVEL_HOLD_S:
            return []
        evidence = (Evidence(signal="water_level_mm", baseline=60.0, observed=level, unit="mm"),)
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _fill_rule(self, state: DeviceState, r: WasherReadings, ts: float) -> list[Signal]:
        """Filling for minutes while the level reading does not rise: a stuck level probe."""
        v = state.v
        s = self.s
        level = r.water_level_mm
        if level is None:
            return []
        low, high = v[s["fill_level_min"]], v[s["fill_level_max"]]
        v[s["fill_level_min"]] = level if math.isnan(low) else min(low, level)
        v[s["fill_level_max"]] = level if math.isnan(high) else max(high, level)
        spread = v[s["fill_level_max"]] - v[s["fill_level_min"]]
        if v[s["fill_s"]] < FILL_STUCK_S or spread >= FILL_STUCK_RANGE_MM:
            return []
        evidence = (
            Evidence(
                signal="water_level_rise_mm", baseline=80.0, observed=round(spread, 1), unit="mm"
            ),
        )
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _rule_finding(
        self, state: DeviceState, fault: Fault, ts: float, evidence: tuple[Evidence, ...]
    ) -> list[Signal]:
        """A direct rule holds: remember it for this cycle (no recovery while it does)."""
        from detectors.fleet import FAULT_ORDER

        state.v[self.s["rule_fault"]] = float(FAULT_ORDER[Kind.WASHER].index(fault) + 1)
        finding = self.detector.hard_finding(state, Kind.WASHER, fault, ts, evidence)
        return [finding] if finding is not None else []

    def _motion(self, v: array[float], r: WasherReadings, phase: float) -> None:
        s = self.s
        arr = v
        target = r.target_rpm
        drum = r.drum_rpm
        if target is None or drum is None or target < 30.0:
            arr[s["prev_target_rpm"]] = target if target is not None else 0.0
            return
        vib = r.vibration_rms_g
        if (
            phase == _PHASES[WasherPhase.SPIN]
            and vib is not None
            and LOW_SPIN_MIN_RPM <= drum <= LOW_SPIN_MAX_RPM
            and target != arr[s["prev_target_rpm"]]
        ):
            # Spin-up through the suspension's resonance (a few hundred rpm): worn dampers
            # show here first, whatever the program's top speed. Only the ramp counts (the
            # commanded speed still rising): a program that holds a low spin would otherwise
            # mix its top speed in.
            arr[s["low_vib_sum"]] += vib
            arr[s["low_vib_n"]] += 1
        steady = target == arr[s["prev_target_rpm"]]
        arr[s["prev_target_rpm"]] = target
        if target > arr[s["max_target_rpm"]]:
            # A higher spin than any so far this cycle: the top-spin figures start over, so
            # they describe the cycle's final spin whatever the program's top speed is.
            arr[s["max_target_rpm"]] = target
            for name in ("spin_vib_sum", "spin_vib_n", "spin_cur_sum", "kurt_sum", "kurt_n"):
                arr[s[name]] = 0.0
        if not steady:
            return
        arr[s["rpm_short_sum"]] += (target - drum) / target
        arr[s["rpm_short_n"]] += 1
        if phase != _PHASES[WasherPhase.SPIN] or vib is None or abs(drum - target) > 0.15 * target:
            return
        if target == arr[s["max_target_rpm"]] and target >= TOP_SPIN_MIN_RPM:
            arr[s["spin_vib_sum"]] += vib
            arr[s["spin_vib_n"]] += 1
            if r.motor_current_a is not None:
                arr[s["spin_cur_sum"]] += r.motor_current_a
            kurt = r.extra_features().get("x_vibration_kurtosis")
            if kurt is not None:
                arr[s["kurt_sum"]] += kurt
                arr[s["kurt_n"]] += 1

    def _close_heating(self, v: array[float]) -> None:
        s = self.s
        arr = v
        start = arr[s["heat_start"]]
        if math.isnan(start):
            return
        minutes = (arr[s["heat_last_ts"]] - start) / 60.0
        if arr[s["heat_n"]] >= 3:
            # The rise runs between the medians of the first three and of the last three
            # readings: on a steady rise the second and the second-to-last, n - 3 of the
            # n - 1 sample intervals apart. Timed over the whole span instead, a short
            # heating read slow by two intervals in its length (a 30 °C wash of water let
            # in at 26 °C heats for three minutes: 10% slow, where a 60 °C wash read 1%), and
            # a healthy washer whose inlet water warmed through the summer drifted 3 sigma
            # into a heater order (seed 9002, wm-000257).
            minutes *= (arr[s["heat_n"]] - 3.0) / (arr[s["heat_n"]] - 1.0)
        arr[s["heat_last_temp"]] = self._probe_temp(arr)
        if minutes > 0:
            arr[s["heat_minutes"]] += minutes
            arr[s["heat_rise"]] += arr[s["heat_last_temp"]] - arr[s["heat_start_temp"]]
        arr[s["heat_start"]] = NAN

    def _probe_temp(self, v: array[float]) -> float:
        """The water temperature now: the median of the probe's last three heating readings.

        One glitched sample (seed 703: 20.5 °C among readings of 35 °C) otherwise looks
        like water that never warmed, and opened a stuck-probe order on a scaled heater.
        """
        s = self.s
        last = v[s["heat_last_temp"]]
        if v[s["heat_n"]] < 3:
            return last
        a, b = v[s["heat_prev1_temp"]], v[s["heat_prev2_temp"]]
        return max(min(a, b), min(max(a, b), last))  # the median of the three

    def _heater_step(self, v: array[float]) -> float:
        """The heating's mean power above the drum's own draw: the element's share."""
        s = self.s
        return _mean(v[s["heat_power_sum"]], v[s["heat_power_n"]]) - v[s["base_power"]]

    def _flat_probe_rule(self, state: DeviceState, ts: float) -> list[Signal]:
        """The element draws its power, the water is below its target, the reading is flat.

        Judged on the median of the last three readings, so one glitch neither starts
        nor breaks a flat stretch.
        """
        v = state.v
        s = self.s
        temp = self._probe_temp(v)
        if temp != v[s["heat_flat_temp"]]:
            v[s["heat_flat_temp"]] = temp
            v[s["heat_flat_since"]] = ts
            return []
        if not temp < v[s["target_temp"]] - PROBE_FLAT_MARGIN_K:
            return []
        step = self._heater_step(v)
        held = ts - v[s["heat_flat_since"]]
        if not step >= HEATER_STEP_W or step * held < PROBE_FLAT_J:
            return []
        minutes = (ts - v[s["heat_start"]]) / 60.0
        evidence = (
            Evidence(
                signal="heat_ramp_k_per_min",
                baseline=1.0,
                observed=round((temp - v[s["heat_start_temp"]]) / minutes, 3),
                unit="K/min",
            ),
            Evidence(signal="heater_power_w", baseline=2000.0, observed=round(step, 1), unit="W"),
        )
        return self._rule_finding(state, Fault.SENSOR_FAULT, ts, evidence)

    def _still_probe_rule(
        self,
        state: DeviceState,
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
        v = state.v
        s = self.s
        if temp != v[s["probe_temp"]]:
            v[s["probe_odd"]] += 1
            if math.isnan(v[s["probe_temp"]]) or v[s["probe_odd"]] > PROBE_GLITCHES:
                v[s["probe_temp"]] = temp
                v[s["probe_odd"]] = 0.0
                v[s["probe_wash_s"]] = 0.0
                v[s["probe_refill"]] = 0.0
            return []
        if phase == _PHASES[WasherPhase.WASH]:
            v[s["probe_wash_s"]] += step
        elif phase == _FILL and v[s["probe_wash_s"]] >= PROBE_FLAT_WASH_S:
            v[s["probe_refill"]] = 1.0
        refilled = v[s["probe_refill"]] and prev_phase == _FILL and phase != _FILL
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

    def _heater_rule(self, state: DeviceState, temp: float, ts: float) -> list[Signal]:
        v = state.v
        s = self.s
        rise = temp - v[s["heat_start_temp"]]
        # Only water well below its target must warm: near the target a healthy washer
        # holds the temperature, and the reading may even sag as the load soaks up heat.
        if rise >= HEATER_MIN_RISE_K or not temp < v[s["target_temp"]] - HEATER_COLD_MARGIN_K:
            return []
        step = self._heater_step(v)
        minutes = (ts - v[s["heat_start"]]) / 60.0
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

    def on_cycle_end(self, state: DeviceState, event: CycleEndEvent, ts: float) -> list[Signal]:
        v = state.v
        s = self.s
        if ts <= v[s["last_cycle_ts"]] or math.isnan(v[s["cycle_start"]]):
            self.detector.late_samples += 1
            return []
        v[s["last_cycle_ts"]] = ts
        self._close_heating(v)
        d = event.data
        heat_minutes = v[s["heat_minutes"]]
        ramp = v[s["heat_rise"]] / heat_minutes if heat_minutes >= 2.0 else NAN
        heat_step = self._heater_step(v)
        if heat_minutes < 2.0:
            heat_step = NAN
        fill = _f(d.fill_time_s) if d.fill_time_s is not None else _nz(v[s["fill_s"]])
        per_litre = _log(_ratio(fill, _f(d.water_l)))
        y = [
            _log(fill) if math.isnan(per_litre) else NAN,
            _log(_f(d.drain_time_s) if d.drain_time_s is not None else _nz(v[s["drain_s"]])),
            _log(ramp),
            _mean(v[s["rpm_short_sum"]], v[s["rpm_short_n"]]),
            _mean(v[s["spin_vib_sum"]], v[s["spin_vib_n"]]),
            _mean(v[s["low_vib_sum"]], v[s["low_vib_n"]]),
            float(d.unbalance_retries) if d.unbalance_retries is not None else NAN,
            _mean(v[s["pump_sum"]], v[s["pump_n"]]),
            _mean(v[s["spin_cur_sum"]], v[s["spin_vib_n"]]),
            _f(d.max_spin_rpm),
            _mean(v[s["kurt_sum"]], v[s["kurt_n"]]),
            heat_step,
            _log(
                _ratio(
                    _mean(v[s["low_vib_sum"]], v[s["low_vib_n"]]),
                    _mean(v[s["spin_vib_sum"]], v[s["spin_vib_n"]]),
                )
            ),
            v[s["heat_last_temp"]] - v[s["target_temp"]] if heat_minutes >= 2.0 else NAN,
            _mean(v[s["spin_level_sum"]], v[s["spin_level_n"]]),
            _mean(v[s["wash_level_sum"]], v[s["wash_level_n"]]),
            per_litre,
        ]
        load = d.load_kg if d.load_kg is not None else v[s["load"]]
        inlet = v[s["inlet_temp"]]
        target_temp = v[s["target_temp"]]
        spin = v[s["max_target_rpm"]]
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
        v[s["cycle_start"]] = NAN
        rule = int(v[s["rule_fault"]])
        v[s["rule_fault"]] = 0.0
        if d.error_code is not None:
            return []
        from detectors.fleet import FAULT_ORDER

        hold = {FAULT_ORDER[Kind.WASHER][rule - 1]: 1.0} if rule else None
        return self.detector.score_window(
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
