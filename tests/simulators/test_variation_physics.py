"""At full physics variation every sampled unit still shows each fault the way the signature
table says (``../shared/domain/fault-signatures.md``), against its own healthy twin under
the same conditions, and the AC fault impacts bracket the lab's empirical models.

The units are drawn as a fleet draws them (catalogue models, per-model and per-unit
constants); each fault is applied through the fleet's own mapping from fault level to
physics, at a moderate level, so a small fault must already point the right way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from edge.contract import Fault
from simulators.ac import AC_FIELDS, MODE_COOL, AcFaultInputs, AcFleet, AcStep
from simulators.catalog import AC_MODELS, WASHER_MODELS
from simulators.faults import FaultPlan
from simulators.fleet import FleetConfig, FleetRun
from simulators.variation import (
    AC_SPREADS,
    AC_STREAM,
    LAB_FAULT_IMPACT,
    WASHER_SPREADS,
    WASHER_STREAM,
    UnitConstants,
    draw_constants,
)
from simulators.washer import WASHER_FIELDS, CycleResult, WasherFaults, WasherUnit, run_cycle

FloatArray = NDArray[np.float64]
COL = {name: i for i, name in enumerate(AC_FIELDS)}
ROW = {name: i for i, name in enumerate(WASHER_FIELDS)}
#: Units sampled per check: every catalogue model several times, unit spreads on top.
N_AC = 30
N_WASHERS = 12
#: A moderately developed fault: directions must hold long before the customer notices.
LEVEL = 0.4


def _ac_constants(seed: int) -> tuple[list[int], dict[str, FloatArray]]:
    """Catalogue models for the nominal ratings, and one design draw per unit: the checks
    sample many designs, not the handful of models one catalogue has."""
    models = [i % len(AC_MODELS) for i in range(N_AC)]
    designs = list(range(N_AC))
    units = [100 + i for i in range(N_AC)]
    return models, draw_constants(AC_SPREADS, 1.0, designs, units, seed=seed, stream=AC_STREAM)


def _fleet_mapping() -> FleetRun:
    """A fleet object whose fault mapping (level -> physics) the checks reuse."""
    return FleetRun(FleetConfig(devices=1, days=1.0, physics_variation=1.0))


def _ac_faults(fault: Fault, k: dict[str, FloatArray], level: float) -> AcFaultInputs:
    plans = [(j, FaultPlan(j, fault, onset_s=0.0, ramp_s=1.0, severity=level)) for j in range(N_AC)]
    faults, _ = _fleet_mapping()._ac_fault_inputs(N_AC, plans, 10.0, k)
    return faults


def _fixed_speed_run(
    models: list[int], k: dict[str, FloatArray], faults: AcFaultInputs, *, steps: int = 90
) -> list[AcStep]:
    """Cooling at 35 °C outdoor, the room held at 27 °C, the compressor at a fixed speed.

    Those are the signature table's "same conditions": the faulty unit and its twin see
    the same air on both coils at the same compressor speed, so every difference is the
    fault's. The first half hour (start-up) is dropped.
    """
    n = len(models)
    fleet = AcFleet(
        [AC_MODELS[m] for m in models],
        np.zeros(n, dtype=np.int64),
        np.zeros(n),
        np.random.default_rng(2),
        np.zeros(n, dtype=bool),
        windows_per_week=0.0,
        glitch_rate=0.0,
        physics={name: values.copy() for name, values in k.items()},
    )
    fleet.profile[:] = 3
    fleet.cool_sp[:] = 22.0
    fleet.hz_min = np.round(0.8 * fleet.hz_nom)
    fleet.hz_max = fleet.hz_min.copy()
    fleet.hz_cap = fleet.hz_max.copy()
    out = []
    for s in range(steps):
        fleet.day_skip[:] = False
        fleet.day_sp_delta[:] = 0.0
        fleet.day_alt_mode[:] = MODE_COOL
        fleet.t_room = np.full(n, 27.0)
        out.append(
            fleet.step(
                60.0 * s,
                60.0,
                outdoor=np.full(n, 35.0),
                sun=np.full(n, 0.7),
                daily_mean=np.full(n, 30.0),
                powered=np.ones(n, dtype=bool),
                faults=faults,
            )
        )
    return out[30:]


@dataclass
class Signals:
    values: dict[str, FloatArray]  # (samples, units)
    steady: NDArray[np.bool_]  # cooling, running for the last five samples


def _signals(steps: list[AcStep]) -> Signals:
    v = np.array([s.values for s in steps])

    def c(name: str) -> FloatArray:
        out: FloatArray = v[:, COL[name], :]
        return out

    hz = c("compressor_hz")
    running = (hz > 0) & np.array([s.mode == MODE_COOL for s in steps])
    steady = running.copy()
    for lag in range(1, 6):
        steady[lag:] &= running[:-lag]
    steady[:5] = False
    values = {
        "evap": c("indoor_coil_temp_c"),
        "superheat": c("suction_temp_c") - c("indoor_coil_temp_c"),
        "approach": c("outdoor_coil_temp_c") - c("outdoor_temp_c"),
        "discharge": c("discharge_temp_c"),
        "eev": c("eev_steps"),
        "amps": c("compressor_current_a"),
        "amps_per_hz": c("compressor_current_a") / np.where(hz > 0, hz, np.nan),
        "air_dt": c("room_temp_c") - c("supply_temp_c"),
        "indoor_fan": c("indoor_fan_rpm"),
        "outdoor_fan": c("outdoor_fan_rpm"),
        "indoor_fan_w": np.array([s.truth["indoor_fan_w"] for s in steps]),
    }
    return Signals(values, steady)


@pytest.fixture(scope="module")
def ac_healthy() -> tuple[list[int], dict[str, FloatArray], Signals]:
    models, k = _ac_constants(seed=5)
    return models, k, _signals(_fixed_speed_run(models, k, AcFaultInputs.healthy(N_AC)))


def _shifts(
    healthy: tuple[list[int], dict[str, FloatArray], Signals], fault: Fault
) -> dict[str, FloatArray]:
    """Per unit, the mean of faulty minus twin over the samples both run steadily."""
    models, k, twin = healthy
    faulty = _signals(_fixed_speed_run(models, k, _ac_faults(fault, k, LEVEL)))
    both = faulty.steady & twin.steady
    assert np.all(both.sum(axis=0) >= 30), "every sampled unit runs steadily in both"
    return {
        key: np.nanmean(np.where(both, faulty.values[key] - twin.values[key], np.nan), axis=0)
        for key in twin.values
    }


def test_units_at_full_variation_are_different_appliances(
    ac_healthy: tuple[list[int], dict[str, FloatArray], Signals],
) -> None:
    _, _, twin = ac_healthy
    approach = np.nanmean(np.where(twin.steady, twin.values["approach"], np.nan), axis=0)
    superheat = np.nanmean(np.where(twin.steady, twin.values["superheat"], np.nan), axis=0)
    # Healthy units under identical conditions spread by kelvins, not tenths.
    assert np.ptp(approach) > 3.0
    assert np.ptp(superheat) > 2.0
    assert np.all((superheat > 1.0) & (superheat < 12.0))
    assert np.all((approach > 3.0) & (approach < 25.0))


def _rounding(k: dict[str, FloatArray]) -> FloatArray:
    """How far a mean difference of rounded temperatures can stray from the true one: a
    derived signal (superheat, approach) is the difference of two rounded readings."""
    out: FloatArray = 0.15 + k["temp_step"]
    return out


def _points(
    d: dict[str, FloatArray],
    k: dict[str, FloatArray],
    *,
    up: tuple[str, ...] = (),
    down: tuple[str, ...] = (),
) -> None:
    """Each signal moves its way across the sampled units (the median), and on no unit
    the other way by more than that unit's firmware rounding can fake: a shift of a few
    tenths of a kelvin reads as zero on a unit that reports whole degrees."""
    for key in up:
        assert float(np.median(d[key])) > 0.0, key
        assert np.all(d[key] > -_rounding(k)), key
    for key in down:
        assert float(np.median(d[key])) < 0.0, key
        assert np.all(d[key] < _rounding(k)), key


@pytest.mark.slow
def test_refrigerant_leak_keeps_its_signature(
    ac_healthy: tuple[list[int], dict[str, FloatArray], Signals],
) -> None:
    _, k, _ = ac_healthy
    d = _shifts(ac_healthy, Fault.REFRIGERANT_LEAK)
    assert np.all(d["eev"] > 10.0)  # the valve opens to hold superheat...
    assert np.all(d["superheat"] > -_rounding(k))  # ...or it rises once the valve saturates
    assert np.all(d["discharge"] > 0.3)
    assert np.all(d["amps_per_hz"] < 0.0)
    _points(d, k, up=("discharge",), down=("evap", "approach", "air_dt"))


@pytest.mark.slow
def test_condenser_fouling_keeps_its_signature(
    ac_healthy: tuple[list[int], dict[str, FloatArray], Signals],
) -> None:
    _, k, _ = ac_healthy
    d = _shifts(ac_healthy, Fault.CONDENSER_FOULING)
    assert np.all(d["approach"] > 0.8)
    assert np.all(d["discharge"] > 0.8)
    assert np.all(d["amps_per_hz"] > 0.0)
    _points(d, k, up=("evap",), down=("superheat", "air_dt"))


@pytest.mark.slow
def test_fading_outdoor_fan_keeps_its_signature(
    ac_healthy: tuple[list[int], dict[str, FloatArray], Signals],
) -> None:
    d = _shifts(ac_healthy, Fault.OUTDOOR_FAN_FAILURE)
    assert np.all(d["outdoor_fan"] < -50.0)
    assert np.all(d["approach"] > 0.5)
    assert np.all(d["discharge"] > 0.5)
    assert np.all(d["amps"] > 0.0)


@pytest.mark.slow
def test_dirty_filter_keeps_its_signature_under_either_fan_control_law(
    ac_healthy: tuple[list[int], dict[str, FloatArray], Signals],
) -> None:
    _, k, _ = ac_healthy
    d = _shifts(ac_healthy, Fault.DIRTY_FILTER)
    assert np.all(d["evap"] < -0.3)
    assert np.all(d["air_dt"] > 0.3)
    assert np.all(d["eev"] < 0.0)
    _points(d, k, down=("superheat", "approach", "discharge"))
    speed = k["fan_speed_ctl"] > 0.5
    assert speed.any(), "both control laws are among the sampled models"
    assert (~speed).any(), "both control laws are among the sampled models"
    # Torque control: the fan speeds up against the filter. Speed control: it holds its
    # rpm and draws more power to do it.
    assert np.all(d["indoor_fan"][~speed] > 10.0)
    assert np.all(np.abs(d["indoor_fan"][speed]) < 5.0)
    assert np.all(d["indoor_fan_w"][speed] > 1.0)


@pytest.mark.slow
def test_compressor_wear_keeps_its_signature(
    ac_healthy: tuple[list[int], dict[str, FloatArray], Signals],
) -> None:
    _, k, _ = ac_healthy
    d = _shifts(ac_healthy, Fault.COMPRESSOR_WEAR)
    assert np.all(d["evap"] > 0.3)
    assert np.all(d["amps_per_hz"] < 0.0)
    _points(d, k, up=("evap",), down=("superheat", "approach", "discharge", "air_dt"))


# -- lab grounding ------------------------------------------------------------------------------


def _lab_inputs(fault: str, intensity: float, k: dict[str, FloatArray]) -> AcFaultInputs:
    """The lab's fault intensity as this simulator's physical inputs, unit by unit."""
    faults = AcFaultInputs.healthy(N_AC)
    if fault == "condenser_fouling":  # condenser airflow lost -> UA lost, by the fan law
        faults.condenser_fouling[:] = 1.0 - (1.0 - intensity) ** k["ua_out_exp"]
    elif fault == "refrigerant_leak":  # charge lost
        faults.charge_deficit[:] = intensity
    else:  # evaporator airflow lost -> filter blockage of the unit's own airflow law
        faults.filter_block[:] = np.minimum(intensity / np.minimum(k["filter_airflow_k"], 0.95), 1)
    return faults


def _capacity_and_cop(
    models: list[int], k: dict[str, FloatArray], faults: AcFaultInputs
) -> tuple[FloatArray, FloatArray]:
    """Cooling capacity and compressor COP at rating conditions and a fixed speed, with
    protections out of the way (the lab holds the compressor at its test point)."""
    k = {name: values.copy() for name, values in k.items()}
    for name in ("cond_droop_c", "dis_droop_c", "dis_trip_c", "hp_limit_kpa"):
        k[name][:] = 1e9
    steps = _fixed_speed_run(models, k, faults, steps=40)
    q = np.mean([s.truth["q_evap_w"] for s in steps[-5:]], axis=0)
    w = np.mean([s.truth["w_comp_w"] for s in steps[-5:]], axis=0)
    return q, q / w


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(LAB_FAULT_IMPACT))
def test_ac_fault_impacts_bracket_the_lab_models(fault: str) -> None:
    """Kim, Cai and Braun's empirical models (capacity and COP against fault intensity at
    35 °C outdoor, 19.4 °C wet bulb) fall within the spread of the sampled units, and the
    units' median stays close to them, over the upper half of the intensities the lab data
    covers (where faults get noticed). For evaporator airflow only the top fifth: below
    it the lab model loses capacity faster than this simulator's air-side law (see the
    README)."""
    models, k = _ac_constants(seed=8)
    lab = LAB_FAULT_IMPACT[fault]
    q0, cop0 = _capacity_and_cop(models, k, AcFaultInputs.healthy(N_AC))
    low = 0.8 if fault == "dirty_filter" else 0.5
    for intensity in np.linspace(low * lab.max_intensity, lab.max_intensity, 3):
        q, cop = _capacity_and_cop(models, k, _lab_inputs(fault, float(intensity), k))
        q_ratio, cop_ratio = q / q0, cop / cop0
        lab_q = lab.ratio("capacity", float(intensity))
        lab_cop = 1.0 / lab.ratio("eir", float(intensity))
        for sim, measured in ((q_ratio, lab_q), (cop_ratio, lab_cop)):
            assert sim.min() - 0.03 <= measured <= sim.max() + 0.03, (intensity, measured)
            assert abs(float(np.median(sim)) - measured) < 0.1, (intensity, measured)


# -- washers ------------------------------------------------------------------------------------


def _washer_units() -> list[WasherUnit]:
    models = [i % len(WASHER_MODELS) for i in range(N_WASHERS)]
    designs = list(range(N_WASHERS))
    units = [200 + i for i in range(N_WASHERS)]
    table = draw_constants(WASHER_SPREADS, 1.0, designs, units, seed=6, stream=WASHER_STREAM)
    return [
        WasherUnit(WASHER_MODELS[m], np.random.default_rng(i), UnitConstants(table, i))
        for i, m in enumerate(models)
    ]


def _washer_fault(fault: Fault, unit: WasherUnit, level: float, **extra: object) -> WasherFaults:
    plan = FaultPlan(0, fault, onset_s=0.0, ramp_s=1.0, severity=level, **extra)  # type: ignore[arg-type]
    faults, _ = _fleet_mapping()._washer_faults(plan, 10.0, unit.k)
    return faults


def _pair(
    unit: WasherUnit, faults: WasherFaults, *, unbalance: float = 0.15, load: float = 5.0
) -> tuple[CycleResult, CycleResult]:
    """The same laundry (program, load, water, random draws) with and without the fault."""

    def one(f: WasherFaults) -> CycleResult:
        return run_cycle(
            unit,
            "cotton",
            load_kg=load,
            unbalance_kg=unbalance,
            inlet_c=15.0,
            faults=f,
            rng=np.random.default_rng(4),
        )

    return one(faults), one(WasherFaults())


def _phase(result: CycleResult, phase: str, name: str) -> FloatArray:
    keep = np.array(result.phases) == phase
    out: FloatArray = result.values[ROW[name]][keep]
    return out


def _num(result: CycleResult, key: str) -> float:
    value = result.summary[key]
    assert isinstance(value, int | float)
    return float(value)


@pytest.fixture(scope="module")
def washers() -> list[WasherUnit]:
    return _washer_units()


def test_healthy_washers_at_full_variation_finish_their_cycles(washers: list[WasherUnit]) -> None:
    fills = []
    for unit in washers:
        _, healthy = _pair(unit, WasherFaults())
        assert healthy.error_code is None
        fills.append(_num(healthy, "fill_time_s"))
    assert np.ptp(fills) > 20.0, "valves and drums differ from model to model"


def test_water_faults_keep_their_signatures(washers: list[WasherUnit]) -> None:
    for unit in washers:
        a, b = _pair(unit, _washer_fault(Fault.DRAIN_PUMP_CLOG, unit, LEVEL))
        assert _num(a, "drain_time_s") > _num(b, "drain_time_s") + 5.0
        a, b = _pair(unit, _washer_fault(Fault.INLET_VALVE_RESTRICTION, unit, LEVEL))
        assert _num(a, "fill_time_s") > 1.1 * _num(b, "fill_time_s")
        a, b = _pair(unit, _washer_fault(Fault.HEATER_FAILURE, unit, LEVEL))
        assert _num(a, "heat_time_s") > _num(b, "heat_time_s") + 60.0


def test_bearing_wear_keeps_its_signature(washers: list[WasherUnit]) -> None:
    for unit in washers:
        a, b = _pair(unit, _washer_fault(Fault.BEARING_WEAR, unit, 0.6))
        if a.error_code is not None:  # overload or vibration protection tripped: noticed
            assert a.error_code in {"E52", "E38"}
            continue
        fast_a = _phase(a, "spin", "drum_rpm") > 800
        fast_b = _phase(b, "spin", "drum_rpm") > 800
        kurt_a = _phase(a, "spin", "x_vibration_kurtosis")[fast_a]
        kurt_b = _phase(b, "spin", "x_vibration_kurtosis")[fast_b]
        assert np.mean(kurt_a) > np.mean(kurt_b) + 0.5
        assert _num(a, "spin_vibration_rms_g") > _num(b, "spin_vibration_rms_g")
        amps_a = _phase(a, "spin", "motor_current_a")[fast_a]
        assert np.mean(amps_a) > np.mean(_phase(b, "spin", "motor_current_a")[fast_b])


def test_belt_slip_and_suspension_wear_keep_their_signatures(washers: list[WasherUnit]) -> None:
    for unit in washers:
        a, b = _pair(unit, _washer_fault(Fault.MOTOR_BELT_SLIP, unit, 0.8), load=7.0)
        held_a = _phase(a, "spin", "target_rpm") > 700
        held_b = _phase(b, "spin", "target_rpm") > 700
        track_a = _phase(a, "spin", "drum_rpm")[held_a] / _phase(a, "spin", "target_rpm")[held_a]
        track_b = _phase(b, "spin", "drum_rpm")[held_b] / _phase(b, "spin", "target_rpm")[held_b]
        assert np.mean(track_a) < np.mean(track_b) - 0.02
        a, b = _pair(unit, _washer_fault(Fault.SUSPENSION_WEAR, unit, 0.8))
        band_a = (_phase(a, "spin", "drum_rpm") > 200) & (_phase(a, "spin", "drum_rpm") < 600)
        band_b = (_phase(b, "spin", "drum_rpm") > 200) & (_phase(b, "spin", "drum_rpm") < 600)
        vib_a = np.mean(_phase(a, "spin", "vibration_rms_g")[band_a])
        assert vib_a > 1.1 * np.mean(_phase(b, "spin", "vibration_rms_g")[band_b])


def test_drain_pump_current_moves_both_ways_with_variation(washers: list[WasherUnit]) -> None:
    for unit in washers:
        for dry, sign in ((False, 1.0), (True, -1.0)):
            faults = _washer_fault(Fault.DRAIN_PUMP_CLOG, unit, LEVEL)
            faults.drain_dry_run = dry
            a, b = _pair(unit, faults)
            pump_a = np.median(_phase(a, "drain", "drain_pump_current_a"))
            pump_b = np.median(_phase(b, "drain", "drain_pump_current_a"))
            assert sign * (pump_a - pump_b) > 0.02
