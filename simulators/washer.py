"""Front-loading washers: one whole cycle at a time, phase by phase, as numpy arrays.

A cycle is a sequence of phases (fill, heat, wash, drain, spin, then rinses with
their own fill, drain and spin, then the final spin). Each phase's duration comes
from its physics: fill time = volume / inlet flow; heating time from the heater
power against the thermal mass of water, load and drum (inlet water is colder
in winter); drain time = volume / pump flow; the spin ramps to the program's
speed after an unbalance check (a towel bundle now and then forces retries).
Telemetry is sampled every ``interval_s`` while the cycle runs.

Faults act on the physics: a clogging pump lowers drain flow, a restricted inlet
valve lowers fill flow, scale (or an open element) lowers the heat delivered, a
slipping belt makes the drum lag its command under load, worn dampers amplify
vibration at low and medium speeds, worn bearings add rough, impulsive vibration
(``x_vibration_kurtosis``) and friction. The cycle aborts with an error code,
which the customer sees, when a firmware limit is crossed (fill or drain
timeout, heating timeout, motor overload, speed not reached, excessive
vibration, a probe open circuit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulators.catalog import WasherModel
from simulators.variation import WASHER_SPREADS, draw_constants

FloatArray = NDArray[Any]

WASHER_FIELDS = (
    "drum_rpm",
    "target_rpm",
    "motor_current_a",
    "water_temp_c",
    "target_temp_c",
    "water_level_mm",
    "drain_pump_current_a",
    "vibration_rms_g",
    "load_kg",
    "power_w",
    "x_vibration_kurtosis",
)

CODE_FILL = "E10"
CODE_DRAIN = "E21"
CODE_HEAT = "E05"
CODE_OVERLOAD = "E52"
CODE_SPEED = "E53"
CODE_VIBRATION = "E38"
CODE_TEMP_PROBE = "E61"
CODE_LEVEL_PROBE = "E62"
ERROR_TEXT = {
    CODE_FILL: "fill timeout",
    CODE_DRAIN: "drain timeout",
    CODE_HEAT: "heating timeout",
    CODE_OVERLOAD: "motor overload",
    CODE_SPEED: "drum speed not reached",
    CODE_VIBRATION: "excessive vibration",
    CODE_TEMP_PROBE: "water temperature probe fault",
    CODE_LEVEL_PROBE: "water level sensor fault",
}

#: Firmware limits of the nominal washer (each model's own with physics variation).
FILL_TIMEOUT_S = 480.0
DRAIN_TIMEOUT_S = 300.0
HEAT_TIMEOUT_S = 80.0 * 60.0
SPIN_CURRENT_LIMIT_A = 3.6
VIBRATION_LIMIT_G = 0.75

#: The nominal washer's constants (see :mod:`simulators.variation`).
NOMINAL_WASHER: dict[str, float] = {
    name: float(values[0])
    for name, values in draw_constants(WASHER_SPREADS, 0.0, [0], [0], seed=0, stream=0).items()
}


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    target_c: float
    wash_s: float
    tumble_rpm: float
    rinses: int
    spin_rpm: float  # capped by the model's maximum
    spin_s: float


PROGRAMS = {
    p.name: p
    for p in (
        Program("cotton", 40.0, 40 * 60.0, 50.0, 3, 1400.0, 420.0),
        Program("cotton60", 60.0, 45 * 60.0, 50.0, 3, 1400.0, 420.0),
        Program("synthetic", 40.0, 30 * 60.0, 45.0, 2, 1000.0, 300.0),
        Program("quick", 20.0, 12 * 60.0, 48.0, 1, 800.0, 180.0),
        Program("wool", 30.0, 15 * 60.0, 30.0, 2, 600.0, 180.0),
    )
}


@dataclass
class WasherFaults:
    """Physical degradation of one washer for one cycle (0 = healthy)."""

    bearing: float = 0.0
    drain_clog: float = 0.0
    drain_dry_run: bool = False  # blocked hose: pump runs dry, current falls instead of rising
    inlet_restriction: float = 0.0
    heater_scale: float = 0.0
    heater_open: bool = False
    belt_slip: float = 0.0
    suspension: float = 0.0
    #: Probe faults: which reading ("water_temp_c"/"water_level_mm"), mode, offset.
    sensor: str | None = None
    sensor_mode: str | None = None  # "stuck", "drift", "open"
    sensor_offset: float = 0.0


@dataclass
class CycleResult:
    """Samples of one cycle (rows = :data:`WASHER_FIELDS`, NaN = null) and its summary."""

    offsets_s: FloatArray
    values: FloatArray
    phases: list[str]
    heater_on: list[bool]
    door_locked: list[bool]
    user: list[tuple[float, str]]
    program: str
    summary: dict[str, float | int | str | None]
    error_code: str | None = None
    duration_s: float = 0.0
    truth: dict[str, float] = field(default_factory=dict)


class _Builder:
    """Accumulates phases sample by sample-block."""

    def __init__(self, interval_s: float) -> None:
        self.dt = interval_s
        self.t = 0.0
        self.blocks: list[tuple[str, FloatArray, dict[str, FloatArray], bool, bool]] = []
        self.user: list[tuple[float, str]] = []
        self.energy_j = 0.0

    def add(
        self,
        phase: str,
        duration_s: float,
        heater: bool,
        door_locked: bool = True,
        **signals: FloatArray | float,
    ) -> FloatArray:
        """Add a phase lasting ``duration_s``; signals are functions of the local time array."""
        if duration_s <= 0:
            return np.empty(0)
        n = max(1, math.ceil(duration_s / self.dt))
        local = np.arange(n) * self.dt
        arrays = {
            k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()
            for k, v in signals.items()
        }
        self.blocks.append((phase, self.t + local, arrays, heater, door_locked))
        self.energy_j += float(np.mean(arrays.get("power_w", np.zeros(n)))) * duration_s
        self.t += duration_s
        return local

    def local_times(self, duration_s: float) -> FloatArray:
        n = max(1, math.ceil(duration_s / self.dt))
        return np.arange(n) * self.dt


class WasherUnit:
    """One washer's fixed properties and household habits.

    ``physics``: this unit's constants from :mod:`simulators.variation` (the nominal
    washer's when None); ``k`` holds them for the cycle physics.
    """

    def __init__(
        self,
        model: WasherModel,
        rng: np.random.Generator,
        physics: Mapping[str, float] | None = None,
    ) -> None:
        k = NOMINAL_WASHER if physics is None else physics
        self.k = k
        self.model = model
        self.pressure = float(rng.uniform(0.8, 1.2))  # mains pressure factor on fill flow
        self.vib_base = float(rng.uniform(0.025, 0.04))
        self.current_base = float(rng.uniform(0.45, 0.6))
        self.temp_bias = float(rng.normal(0.0, 0.3))
        if k["temp_offset_c"] != 0.0:  # where the model's probe sits on the tub
            self.temp_bias += k["temp_offset_c"]
        self.favourite = str(
            rng.choice(["cotton", "cotton", "cotton60", "synthetic", "quick", "wool"])
        )
        self.cycles_per_week = float(rng.uniform(2.0, 9.0)) * k["cycles_k"]
        self.heavy_loads = min(float(rng.uniform(0.0, 0.3)) * k["heavy_k"], 0.6)
        self.favourite_share = min(k["favourite_share"], 0.95)

    def choose(self, rng: np.random.Generator) -> tuple[str, float, float]:
        """Program, load (kg) and unbalance mass (kg) of the next cycle."""
        favourite = rng.random() < self.favourite_share
        program = self.favourite if favourite else str(rng.choice(list(PROGRAMS)))
        drum = self.model.drum_kg
        if program == "wool":
            load = rng.uniform(0.5, 2.0)
        elif rng.random() < self.heavy_loads:
            load = min(rng.uniform(0.8, 1.0) * drum * self.k["load_k"], drum)  # a confounder
        else:
            load = min(rng.uniform(0.25, 0.75) * drum * self.k["load_k"], drum)
        unbalance = float(rng.lognormal(math.log(0.15), 0.5))
        return program, float(round(load, 1)), unbalance


def run_cycle(
    unit: WasherUnit,
    program_name: str,
    *,
    load_kg: float,
    unbalance_kg: float,
    inlet_c: float,
    faults: WasherFaults,
    rng: np.random.Generator,
    interval_s: float = 10.0,
    pause_s: float = 0.0,
    glitch_rate: float = 0.0,
) -> CycleResult:
    """Simulate one cycle; stops early (with an error code) when a firmware limit trips.

    ``pause_s`` > 0: the user pauses the wash halfway for that long (door unlocked).
    ``glitch_rate``: share of samples where one probe reading spikes for one sample.
    """
    model = unit.model
    k_ = unit.k
    prog = PROGRAMS[program_name]
    b = _Builder(interval_s)
    error: str | None = None
    water_l = 0.0
    fill_total = 0.0
    heat_total = 0.0
    drain_first: float | None = None
    retries = 0
    max_spin = 0.0
    spin_vib = 0.0
    temp = inlet_c
    ambient = k_["ambient_c"]
    c_drum = k_["c_drum"]
    absorbed = 0.0
    absorb = k_["absorb_k"]
    mm_per_l = k_["level_mm_per_l"]
    slip_k = k_["slip_k"] * faults.belt_slip
    load_frac = load_kg / model.drum_kg
    if faults.sensor_mode == "open":
        error = CODE_TEMP_PROBE if faults.sensor == "water_temp_c" else CODE_LEVEL_PROBE
        b.add("fill", interval_s, False, power_w=15.0, water_level_mm=0.0, water_temp_c=inlet_c)
        return _finish(
            b,
            unit,
            prog,
            load_kg=load_kg,
            error=error,
            water_l=0.0,
            fill_total=0.0,
            heat_total=0.0,
            drain_first=None,
            retries=0,
            max_spin=0.0,
            spin_vib=0.0,
            faults=faults,
            glitch_rate=glitch_rate,
        )

    def tumble(n_or_t: FloatArray, rpm: float) -> tuple[FloatArray, FloatArray]:
        # 12 s on, 3 s pause, alternating direction: a 10 s sample catches some pauses.
        phase = (n_or_t + rng.uniform(0, 15)) % 15.0
        target = np.where(phase < 12.0, rpm, 0.0)
        slip = slip_k * (0.4 + load_frac)
        ripple = 1.0 + rng.normal(0.0, 0.01 + 0.05 * faults.belt_slip, target.shape)
        return target, target * (1.0 - slip) * ripple

    def fill(volume_l: float) -> bool:
        nonlocal water_l, fill_total, absorbed
        flow = (
            model.fill_l_per_min
            / 60.0
            * unit.pressure
            * k_["fill_flow_k"]
            * (1.0 - 0.93 * faults.inlet_restriction)
        )
        flow *= float(rng.uniform(0.95, 1.05))
        duration = volume_l / flow
        timed_out = duration > k_["fill_timeout_s"]
        duration = min(duration, k_["fill_timeout_s"])
        t = b.local_times(duration)
        vol = np.minimum(flow * t, volume_l)
        absorb_cap = 2.0 * load_kg - absorbed
        free = np.maximum(vol - np.minimum(vol * absorb, absorb_cap), 0.0)
        target, drum = tumble(t, 30.0)
        b.add(
            "fill",
            duration,
            False,
            water_level_mm=np.minimum(mm_per_l * free, 160.0),
            water_temp_c=np.full_like(t, temp),
            drum_rpm=drum,
            target_rpm=target,
            motor_current_a=unit.current_base + 0.05 * load_kg * (target > 0),
            power_w=20.0 + 60.0 * (target > 0),
            drain_pump_current_a=0.0,
            vibration_rms_g=unit.vib_base + 0.003 * load_kg,
        )
        got = float(vol[-1]) if len(vol) else 0.0
        water_l += flow * duration
        absorbed += min(got * absorb, absorb_cap)
        fill_total += duration
        return not timed_out

    def drain(volume_l: float) -> bool:
        nonlocal drain_first
        flow = model.drain_l_per_min / 60.0 * k_["drain_flow_k"] * (1.0 - 0.97 * faults.drain_clog)
        duration = volume_l / flow + 8.0
        timed_out = duration > k_["drain_timeout_s"]
        duration = min(duration, k_["drain_timeout_s"])
        t = b.local_times(duration)
        level = np.maximum(mm_per_l * (volume_l - flow * t), 0.0)
        # A jammed impeller draws more current, a pump running dry on a blocked hose less.
        clog_a = -k_["clog_dry_a"] if faults.drain_dry_run else k_["clog_jam_a"]
        pump_a = k_["pump_a"] + clog_a * faults.drain_clog
        pump = np.where(level > 0, pump_a, 0.2) + rng.normal(0.0, 0.01, t.shape)
        b.add(
            "drain",
            duration,
            False,
            water_level_mm=level,
            water_temp_c=np.full_like(t, temp),
            drum_rpm=0.0,
            target_rpm=0.0,
            motor_current_a=0.0,
            power_w=15.0 + 35.0 + 40.0 * faults.drain_clog,
            drain_pump_current_a=pump,
            vibration_rms_g=unit.vib_base * 0.5,
        )
        if drain_first is None:
            drain_first = duration
        return not timed_out

    def spin(rpm_cmd: float, hold_s: float, final: bool) -> str | None:
        nonlocal retries, max_spin, spin_vib
        rpm_cmd = min(rpm_cmd, model.max_spin_rpm)
        # Unbalance check at distribution speed; worn dampers lower the tolerated unbalance.
        tolerated = k_["tolerated_unbalance"] * (1.0 - 0.55 * faults.suspension)
        u = unbalance_kg
        tries = 0
        while u > tolerated and tries < 4:
            tries += 1
            t = b.local_times(40.0)
            target, drum = tumble(t, 60.0)
            b.add(
                "spin",
                40.0,
                False,
                drum_rpm=drum,
                target_rpm=target,
                motor_current_a=unit.current_base + 0.08 * load_kg,
                power_w=90.0,
                vibration_rms_g=unit.vib_base + 0.1 * u,
                water_level_mm=0.0,
                water_temp_c=np.full_like(t, temp),
                drain_pump_current_a=0.2,
            )
            u = u * float(rng.uniform(0.3, 0.9))
        retries += tries
        if u > tolerated:
            rpm_cmd = min(rpm_cmd, 500.0)
        # Ramp: ~12 rpm/s healthy; rough bearings and a slipping belt ramp slower.
        nominal_ramp = k_["ramp_rate"]
        ramp_rate = nominal_ramp * (1.0 - 0.35 * faults.bearing) * (1.0 - 0.3 * faults.belt_slip)
        ramp_s = rpm_cmd / ramp_rate
        total = ramp_s + hold_s
        t = b.local_times(total)
        target = np.minimum(t * nominal_ramp, rpm_cmd)
        slip = slip_k * (0.4 + load_frac) * 1.4
        drum = np.minimum(t * ramp_rate, rpm_cmd) * (1.0 - slip)
        drum = drum * (1.0 + rng.normal(0.0, 0.004 + 0.03 * faults.belt_slip, t.shape))
        k = drum / 1000.0
        resonance = np.exp(-(((drum - k_["resonance_rpm"]) / k_["resonance_width"]) ** 2))
        damping = 1.0 + k_["suspension_k"] * faults.suspension**1.5 * (0.4 + resonance)
        vib = (
            unit.vib_base
            + 0.004 * load_kg
            + u * k_["unbalance_vib_k"] * (0.35 * k**2 + 0.25 * resonance) * damping
            + k_["bearing_vib_k"] * faults.bearing**1.6 * k**1.5
        )
        vib = vib * (1.0 + rng.normal(0.0, 0.05, t.shape))
        friction = k_["bearing_friction_k"] * faults.bearing**1.5 * k
        current = (
            unit.current_base
            + (0.06 * load_kg + 0.9) * k_["spin_current_k"] * k
            + k_["accel_current"] * (np.gradient(drum) > 0) * (1.0 - k)
            + friction
            + 1.2 * faults.belt_slip * k * load_frac
        )
        kurt = (
            3.0
            + k_["bearing_kurt_k"] * faults.bearing**1.3 * np.clip(k * 1.5, 0.0, 1.0)
            + rng.normal(0.0, 0.15, t.shape)
        )
        code: str | None = None
        cut = len(t)
        over_i = np.nonzero(current > k_["current_limit_a"])[0]
        over_v = np.nonzero(vib > k_["vibration_limit_g"])[0]
        reached = float(drum.max()) if len(drum) else 0.0
        if over_i.size:
            code, cut = CODE_OVERLOAD, int(over_i[0]) + 1
        elif over_v.size:
            code, cut = CODE_VIBRATION, int(over_v[0]) + 1
        elif final and reached < 0.72 * rpm_cmd:
            code = CODE_SPEED
        duration = cut * b.dt if code in (CODE_OVERLOAD, CODE_VIBRATION) else total
        sl = slice(0, cut)
        b.add(
            "spin",
            duration,
            False,
            drum_rpm=drum[sl],
            target_rpm=target[sl],
            motor_current_a=current[sl],
            power_w=30.0 + current[sl] * 230.0 * k_["motor_pf"],
            vibration_rms_g=vib[sl],
            water_level_mm=0.0,
            water_temp_c=np.full(cut, temp),
            drain_pump_current_a=np.where(t[sl] < 60.0, 0.2, 0.0),
            x_vibration_kurtosis=kurt[sl],
        )
        max_spin = max(max_spin, float(drum[:cut].max()) if cut else 0.0)
        if final:
            spin_vib = (
                float(np.mean(vib[sl][drum[sl] > 0.8 * rpm_cmd]))
                if np.any(drum[sl] > 0.8 * rpm_cmd)
                else float(vib[sl].max())
            )
        return code

    wash_volume = (8.0 + 1.6 * load_kg) * k_["volume_k"]
    rinse_volume = (9.0 + 1.3 * load_kg) * k_["volume_k"]
    tumble_rpm = prog.tumble_rpm * k_["tumble_k"]
    wash_s = prog.wash_s * k_["wash_time_k"]
    if not fill(wash_volume):
        error = CODE_FILL
    if error is None and prog.target_c > inlet_c + 1.0:
        # Heat while tumbling: dT/dt = (P - UA_loss (T - T_amb)) / C, solved exactly.
        heater_w = model.heater_w * k_["heater_w_k"]
        power = 0.0 if faults.heater_open else heater_w * (1.0 - 0.9 * faults.heater_scale)
        c_total = (wash_volume * 4186.0) + load_kg * 1400.0 + c_drum
        ua_loss = k_["ua_loss"]
        t_inf = ambient + power / ua_loss
        if power > 0 and t_inf > prog.target_c:
            need = -c_total / ua_loss * math.log((t_inf - prog.target_c) / (t_inf - temp))
        else:
            need = math.inf
        timed_out = need > HEAT_TIMEOUT_S
        duration = min(need, HEAT_TIMEOUT_S)
        t = b.local_times(duration)
        water = t_inf - (t_inf - temp) * np.exp(-t * ua_loss / c_total)
        target, drum = tumble(t, tumble_rpm)
        b.add(
            "heat",
            duration,
            True,
            water_temp_c=water,
            drum_rpm=drum,
            target_rpm=target,
            motor_current_a=unit.current_base + 0.06 * load_kg * (target > 0),
            power_w=power + 25.0 + 70.0 * (target > 0),
            water_level_mm=mm_per_l * max(wash_volume - 2.0 * load_kg * absorb, 2.0),
            drain_pump_current_a=0.0,
            vibration_rms_g=unit.vib_base + 0.004 * load_kg,
        )
        heat_total = duration
        temp = float(water[-1]) if len(water) else temp
        if timed_out:
            error = CODE_HEAT
    if error is None:
        level_mm = mm_per_l * max(wash_volume - 2.0 * load_kg * absorb, 2.0)
        # Someone may pause the wash to add a sock: drum stops, door unlocks, water cools.
        parts = [wash_s / 2.0, wash_s / 2.0] if pause_s > 0 else [wash_s]
        for n_part, part_s in enumerate(parts):
            if n_part == 1:
                b.user.append((b.t, "pause"))
                t = b.local_times(pause_s)
                b.add(
                    "wash",
                    pause_s,
                    False,
                    door_locked=False,
                    water_temp_c=temp - t * 0.002,
                    drum_rpm=0.0,
                    target_rpm=0.0,
                    motor_current_a=0.0,
                    power_w=12.0,
                    water_level_mm=level_mm,
                    drain_pump_current_a=0.0,
                    vibration_rms_g=0.005,
                )
                temp -= pause_s * 0.002
                b.user.append((b.t, "resume"))
            t = b.local_times(part_s)
            target, drum = tumble(t, tumble_rpm)
            water = temp - t * 0.0004
            b.add(
                "wash",
                part_s,
                False,
                water_temp_c=water,
                drum_rpm=drum,
                target_rpm=target,
                motor_current_a=unit.current_base
                + (0.07 * load_kg + 0.2)
                * (target > 0)
                * (1.0 + 0.6 * faults.belt_slip * load_frac),
                power_w=25.0 + 80.0 * (target > 0) + 15.0 * load_kg * (target > 0),
                water_level_mm=level_mm,
                drain_pump_current_a=0.0,
                vibration_rms_g=unit.vib_base + 0.005 * load_kg + 0.01 * faults.bearing,
            )
            temp = float(water[-1])
        if not drain(wash_volume):
            error = CODE_DRAIN
    if error is None:
        error = spin(600.0, 60.0, final=False)
    for _ in range(prog.rinses):
        if error is not None:
            break
        if not fill(rinse_volume):
            error = CODE_FILL
            break
        temp = inlet_c
        t = b.local_times(300.0)
        target, drum = tumble(t, tumble_rpm)
        b.add(
            "rinse",
            300.0,
            False,
            water_temp_c=np.full_like(t, inlet_c),
            drum_rpm=drum,
            target_rpm=target,
            motor_current_a=unit.current_base + (0.07 * load_kg + 0.2) * (target > 0),
            power_w=25.0 + 80.0 * (target > 0) + 15.0 * load_kg * (target > 0),
            water_level_mm=mm_per_l * rinse_volume * 0.8,
            drain_pump_current_a=0.0,
            vibration_rms_g=unit.vib_base + 0.005 * load_kg,
        )
        if not drain(rinse_volume):
            error = CODE_DRAIN
            break
    if error is None:
        error = spin(prog.spin_rpm * k_["spin_k"], prog.spin_s, final=True)
    return _finish(
        b,
        unit,
        prog,
        load_kg=load_kg,
        error=error,
        water_l=water_l,
        fill_total=fill_total,
        heat_total=heat_total,
        drain_first=drain_first,
        retries=retries,
        max_spin=max_spin,
        spin_vib=spin_vib,
        faults=faults,
        glitch_rate=glitch_rate,
    )


def _finish(
    b: _Builder,
    unit: WasherUnit,
    prog: Program,
    *,
    load_kg: float,
    error: str | None,
    water_l: float,
    fill_total: float,
    heat_total: float,
    drain_first: float | None,
    retries: int,
    max_spin: float,
    spin_vib: float,
    faults: WasherFaults,
    glitch_rate: float,
) -> CycleResult:
    offsets = np.concatenate([blk[1] for blk in b.blocks]) if b.blocks else np.empty(0)
    values = np.full((len(WASHER_FIELDS), len(offsets)), np.nan)
    phases: list[str] = []
    heater: list[bool] = []
    door: list[bool] = []
    pos = 0
    for phase, local, arrays, heat, locked in b.blocks:
        m = len(local)
        for name, arr in arrays.items():
            values[WASHER_FIELDS.index(name), pos : pos + m] = arr
        phases.extend([phase] * m)
        heater.extend([heat] * m)
        door.extend([locked] * m)
        pos += m
    if len(offsets):
        # The firmware samples on a fixed clock from the cycle's start, whatever the
        # phase boundaries: hold the latest physical state at each tick.
        ticks = np.arange(0.0, max(b.t, b.dt), b.dt)
        pick = np.maximum(np.searchsorted(offsets, ticks, side="right") - 1, 0)
        values = values[:, pick]
        phases = [phases[i] for i in pick.tolist()]
        heater = [heater[i] for i in pick.tolist()]
        door = [door[i] for i in pick.tolist()]
        offsets = ticks
    row = WASHER_FIELDS.index
    values[row("target_temp_c")] = prog.target_c
    values[row("load_kg")] = np.where(offsets >= 120.0, load_kg, np.nan)
    values[row("drain_pump_current_a")] = np.nan_to_num(values[row("drain_pump_current_a")])
    # Probe faults act on what is reported, not on the water.
    rng_noise = np.random.default_rng(int(len(offsets) * 7919 + round(load_kg * 10)))
    if faults.sensor in {"water_temp_c", "water_level_mm"}:
        r = row(faults.sensor)
        if faults.sensor_mode == "stuck":
            values[r] = values[r][0] if len(offsets) else np.nan
        elif faults.sensor_mode == "drift":
            values[r] = values[r] + faults.sensor_offset
    if glitch_rate > 0 and len(offsets):
        # One-sample probe glitches (a connector, a bubble at the pressure sensor).
        spikes = rng_noise.random((2, len(offsets))) < glitch_rate
        values[row("water_temp_c")] += np.where(spikes[0], rng_noise.choice([-15.0, 25.0]), 0.0)
        values[row("water_level_mm")] += np.where(spikes[1], 40.0, 0.0)
    k_ = unit.k
    if k_["temp_noise_c"] > 0.0:
        values[row("water_temp_c")] += rng_noise.normal(0.0, k_["temp_noise_c"], len(offsets))
    values[row("water_temp_c")] = _round_to(
        values[row("water_temp_c")] + unit.temp_bias, k_["temp_step"], 0.1
    )
    if k_["level_offset_mm"] != 0.0:  # the pressure sensor's zero, per unit
        values[row("water_level_mm")] += k_["level_offset_mm"]
    values[row("water_level_mm")] = _round_to(
        values[row("water_level_mm")] + rng_noise.normal(0, k_["level_noise_mm"], len(offsets)),
        k_["level_step"],
        1.0,
    )
    values[row("water_level_mm")] = np.maximum(values[row("water_level_mm")], 0.0)
    values[row("drum_rpm")] = np.maximum(np.round(values[row("drum_rpm")]), 0.0)
    values[row("target_rpm")] = np.round(values[row("target_rpm")])
    values[row("motor_current_a")] = np.round(values[row("motor_current_a")], 2)
    values[row("drain_pump_current_a")] = np.round(
        np.maximum(values[row("drain_pump_current_a")], 0.0), 2
    )
    values[row("vibration_rms_g")] = np.round(np.maximum(values[row("vibration_rms_g")], 0.0), 3)
    values[row("power_w")] = np.round(values[row("power_w")])
    values[row("x_vibration_kurtosis")] = np.round(values[row("x_vibration_kurtosis")], 2)
    duration = b.t
    summary: dict[str, float | int | str | None] = {
        "program": prog.name,
        "duration_s": round(duration),
        "fill_time_s": round(fill_total),
        "heat_time_s": round(heat_total),
        "drain_time_s": round(drain_first) if drain_first is not None else None,
        "max_spin_rpm": round(max_spin),
        "spin_vibration_rms_g": round(spin_vib, 3) if max_spin > 0 else None,
        "unbalance_retries": retries,
        "water_l": round(water_l, 1),
        "energy_wh": round(b.energy_j / 3600.0),
        "load_kg": load_kg,
        "error_code": error,
    }
    return CycleResult(
        offsets_s=offsets,
        values=values,
        phases=phases,
        heater_on=heater,
        door_locked=door,
        user=list(b.user),
        program=prog.name,
        summary=summary,
        error_code=error,
        duration_s=duration,
    )


def _round_to(x: FloatArray, step: float, nominal: float) -> FloatArray:
    """``x`` rounded to the firmware's ``step`` (the nominal step's exact arithmetic).

    >>> _round_to(np.array([21.26, 21.3]), 0.5, 0.1).tolist()
    [21.5, 21.5]
    """
    if step == nominal:
        out: FloatArray = np.round(x, 1) if nominal == 0.1 else np.round(x)
        return out
    rounded: FloatArray = np.round(np.round(x / step) * step, 2)
    return rounded
