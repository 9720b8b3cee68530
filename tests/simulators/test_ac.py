"""AC physics: a healthy unit behaves like one, and every fault moves the signals the
signature table says it does, against a healthy twin under identical weather and use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from edge.contract import Fault
from simulators.ac import AC_FIELDS, MODE_COOL, MODE_HEAT, AcFaultInputs, AcFleet, AcStep
from simulators.catalog import AC_MODELS
from simulators.faults import FaultTruth
from simulators.fleet import FleetConfig
from simulators.scenario import FaultSpec, Scenario
from tests.simulators.twins import DeviceSeries, align, collect

COL = {name: i for i, name in enumerate(AC_FIELDS)}


def _fleet(n: int, seed: int = 1) -> AcFleet:
    fleet = AcFleet(
        [AC_MODELS[i % len(AC_MODELS)] for i in range(n)],
        np.zeros(n, dtype=np.int64),
        np.zeros(n),
        np.random.default_rng(seed),
        np.zeros(n, dtype=bool),
        windows_per_week=0.0,
        glitch_rate=0.0,
    )
    fleet.profile[:] = 3  # someone is always home
    return fleet


def _run(
    fleet: AcFleet, outdoor: float, daily_mean: float, hours: float, mode: int
) -> Iterator[AcStep]:
    n = fleet.n
    faults = AcFaultInputs.healthy(n)
    t = 0.0
    for _ in range(int(hours * 60)):
        # Hold the household steady: always the same mode and setpoint.
        fleet.day_skip[:] = False
        fleet.day_sp_delta[:] = 0.0
        fleet.day_alt_mode[:] = MODE_COOL
        yield fleet.step(
            t,
            60.0,
            outdoor=np.full(n, outdoor),
            sun=np.full(n, 0.7 if mode == MODE_COOL else 0.2),
            daily_mean=np.full(n, daily_mean),
            powered=np.ones(n, dtype=bool),
            faults=faults,
        )
        t += 60.0


def test_healthy_cooling_in_design_conditions_is_plausible() -> None:
    fleet = _fleet(10)
    steps = list(_run(fleet, outdoor=35.0, daily_mean=30.0, hours=6.0, mode=MODE_COOL))
    late = steps[-120:]  # the last two hours
    room = np.array([s.values[COL["room_temp_c"]] for s in late])
    setpoint = np.array([s.values[COL["setpoint_c"]] for s in late])
    assert np.all(np.abs(room - setpoint).mean(axis=0) < 1.0), "room reaches the setpoint"
    running = np.array([s.values[COL["compressor_hz"]] > 0 for s in late])
    assert running.mean() > 0.5
    superheat = np.array([s.truth["superheat_k"] for s in late])[running]
    subcooling = np.array([s.truth["subcooling_k"] for s in late])[running]
    q = np.array([s.truth["q_evap_w"] for s in late])[running]
    w = np.array([s.truth["w_comp_w"] for s in late])[running]
    assert 3.0 < np.median(superheat) < 8.0
    assert 3.0 < np.median(subcooling) < 7.0
    cop = q / w
    assert 2.5 < np.median(cop) < 6.5
    assert np.all(cop > 1.5)
    discharge = np.array([s.values[COL["discharge_temp_c"]] for s in late])[running]
    assert 55.0 < np.median(discharge) < 100.0
    evap = np.array([s.values[COL["indoor_coil_temp_c"]] for s in late])[running]
    assert 2.0 < np.median(evap) < 16.0
    cond_approach = np.array(
        [s.values[COL["outdoor_coil_temp_c"]] - s.values[COL["outdoor_temp_c"]] for s in late]
    )[running]
    assert 4.0 < np.median(cond_approach) < 20.0
    supply = np.array([s.values[COL["supply_temp_c"]] for s in late])[running]
    assert 6.0 < np.median(supply) < 20.0
    assert not any(s.errors for s in steps), "a healthy unit raises no error in design weather"


def test_healthy_heating_defrosts_and_holds_the_room() -> None:
    fleet = _fleet(6, seed=2)
    steps = list(_run(fleet, outdoor=1.0, daily_mean=2.0, hours=10.0, mode=MODE_HEAT))
    assert all((s.mode == MODE_HEAT).all() for s in steps[5:])
    defrosting = np.array([s.truth["defrosting"] for s in steps])
    assert defrosting.any(axis=0).all(), "every unit defrosts at 1 °C outdoor"
    assert defrosting.mean() < 0.2
    late = steps[-120:]
    room = np.array([s.values[COL["room_temp_c"]] for s in late])
    setpoint = np.array([s.values[COL["setpoint_c"]] for s in late])
    assert np.all(np.abs(room - setpoint).mean(axis=0) < 1.5)
    # In heating the indoor coil condenses: it is the warm one.
    heating = ~defrosting[-120:].astype(bool) & np.array(
        [s.values[COL["compressor_hz"]] > 0 for s in late]
    )
    indoor = np.array([s.values[COL["indoor_coil_temp_c"]] for s in late])
    outdoor_coil = np.array([s.values[COL["outdoor_coil_temp_c"]] for s in late])
    assert np.all(indoor[heating] > outdoor_coil[heating] + 15.0)
    assert not any(s.errors for s in steps)


# -- faults against a healthy twin ------------------------------------------------------------

AC_CASES: list[tuple[Fault, dict[str, object]]] = [
    (Fault.REFRIGERANT_LEAK, {}),
    (Fault.CONDENSER_FOULING, {}),
    (Fault.OUTDOOR_FAN_FAILURE, {"sudden": False}),
    (Fault.DIRTY_FILTER, {}),
    (Fault.COMPRESSOR_WEAR, {}),
    (Fault.SENSOR_FAULT, {"sensor": "suction_temp_c", "sensor_mode": "drift"}),
    (Fault.SENSOR_FAULT, {"sensor": "discharge_temp_c", "sensor_mode": "stuck"}),
    (Fault.OUTDOOR_FAN_FAILURE, {"sudden": True, "onset_day": 6.0}),
]


@dataclass
class Twins:
    faulty: dict[str, DeviceSeries]
    healthy: dict[str, DeviceSeries]
    truth: dict[int, FaultTruth]
    start_s: float
    days: float


@pytest.fixture(scope="module")
def ac_twins() -> Twins:
    specs = []
    for i, (fault, extra) in enumerate(AC_CASES):
        fields: dict[str, object] = {"onset_day": 1.0, "ramp_days": 18.0, "severity": 0.9}
        fields.update(extra)
        specs.append(FaultSpec(device=i, fault=fault, **fields))  # type: ignore[arg-type]
    config = FleetConfig(
        devices=len(AC_CASES),
        days=16.0,
        seed=11,
        ac_share=1.0,
        ac_interval_s=300,
        scenario=Scenario(faults=tuple(specs), explicit_only=True),
        regions=("IN-MH",),
    )
    faulty, truth = collect(config)
    healthy, twin_truth = collect(config.healthy_twin())
    assert twin_truth == []
    by_index = {int(t.device_id.split("-")[1]): t for t in truth}
    return Twins(faulty, healthy, by_index, config.start.timestamp(), config.days)


def _paired(twins: Twins, index: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Derived quantities of the faulty unit and its twin at the same moments, cooling,
    compressor running in both, from a third of the way to the notice until the notice."""
    truth = twins.truth[index]
    a = twins.faulty[truth.device_id]
    b = twins.healthy[truth.device_id]
    ia, ib = align(a, b)
    onset = truth.onset_at.timestamp()
    end = truth.notice_at.timestamp() if truth.notice_at else twins.start_s + twins.days * 86400
    begin = onset + 0.35 * (end - onset)
    ts = a.ts[ia]
    mode_a = np.array(a.modes)[ia]
    mode_b = np.array(b.modes)[ib]
    hz_a = a.col("compressor_hz")[ia]
    hz_b = b.col("compressor_hz")[ib]
    keep = (ts >= begin) & (ts < end) & (mode_a == "cool") & (mode_b == "cool")
    keep &= (hz_a > 0) & (hz_b > 0)
    assert keep.sum() >= 30, f"too few comparable samples for {truth.fault}: {keep.sum()}"
    return _derived(a, ia[keep]), _derived(b, ib[keep])


def _derived(s: DeviceSeries, idx: np.ndarray) -> dict[str, np.ndarray]:
    c = s.col
    return {
        "evap": c("indoor_coil_temp_c")[idx],
        "superheat": (c("suction_temp_c") - c("indoor_coil_temp_c"))[idx],
        "approach": (c("outdoor_coil_temp_c") - c("outdoor_temp_c"))[idx],
        "discharge": c("discharge_temp_c")[idx],
        "eev": c("eev_steps")[idx],
        "amps": c("compressor_current_a")[idx],
        "amps_per_hz": c("compressor_current_a")[idx] / c("compressor_hz")[idx],
        "air_dt": (c("room_temp_c") - c("supply_temp_c"))[idx],
        "hz": c("compressor_hz")[idx],
        "indoor_fan": c("indoor_fan_rpm")[idx],
        "outdoor_fan": c("outdoor_fan_rpm")[idx],
        "suction": c("suction_temp_c")[idx],
        "outdoor_coil": c("outdoor_coil_temp_c")[idx],
        "room": c("room_temp_c")[idx],
    }


def _shift(fa: dict[str, np.ndarray], tw: dict[str, np.ndarray], key: str) -> float:
    return float(np.nanmean(fa[key] - tw[key]))


@pytest.mark.slow
def test_refrigerant_leak_signature(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 0)
    assert _shift(fa, tw, "evap") < -0.3
    assert _shift(fa, tw, "superheat") > -0.2  # the EEV holds it until it saturates...
    assert _shift(fa, tw, "eev") > 20.0  # ...by opening
    assert _shift(fa, tw, "discharge") > 1.0
    assert _shift(fa, tw, "approach") < -0.2
    assert _shift(fa, tw, "amps_per_hz") < 0.0
    assert _shift(fa, tw, "air_dt") < -0.2
    assert _shift(fa, tw, "hz") >= 0.0


@pytest.mark.slow
def test_condenser_fouling_signature(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 1)
    assert _shift(fa, tw, "approach") > 1.5
    assert _shift(fa, tw, "discharge") > 1.0
    assert _shift(fa, tw, "superheat") < 0.0
    assert _shift(fa, tw, "amps_per_hz") > 0.0
    assert _shift(fa, tw, "evap") > -0.2
    assert _shift(fa, tw, "air_dt") < 0.1


@pytest.mark.slow
def test_fading_outdoor_fan_signature(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 2)
    assert _shift(fa, tw, "outdoor_fan") < -40.0
    assert _shift(fa, tw, "approach") > 0.5
    assert _shift(fa, tw, "discharge") > 0.5
    assert _shift(fa, tw, "amps") > 0.0


@pytest.mark.slow
def test_dirty_filter_signature(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 3)
    assert _shift(fa, tw, "evap") < -0.8
    assert _shift(fa, tw, "superheat") < -0.2
    assert _shift(fa, tw, "approach") < 0.1
    assert _shift(fa, tw, "discharge") < -0.5
    assert _shift(fa, tw, "eev") < 0.0
    assert _shift(fa, tw, "air_dt") > 0.5
    assert _shift(fa, tw, "indoor_fan") > 20.0


@pytest.mark.slow
def test_compressor_wear_signature(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 4)
    assert _shift(fa, tw, "evap") > 0.5
    assert _shift(fa, tw, "superheat") < 0.0
    assert _shift(fa, tw, "approach") < -0.3
    assert _shift(fa, tw, "discharge") < -0.5
    assert _shift(fa, tw, "amps_per_hz") < 0.0
    assert _shift(fa, tw, "air_dt") < -0.2
    assert _shift(fa, tw, "hz") > 0.0


@pytest.mark.slow
def test_drifting_thermistor_has_no_physical_consequence(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 5)
    assert abs(_shift(fa, tw, "suction")) > 1.0
    for other in ("evap", "discharge", "hz", "amps", "outdoor_coil", "room"):
        assert abs(_shift(fa, tw, other)) < 0.05, other


@pytest.mark.slow
def test_stuck_thermistor_reads_one_value(ac_twins: Twins) -> None:
    fa, tw = _paired(ac_twins, 6)
    assert np.nanstd(fa["discharge"]) == 0.0
    assert np.nanstd(tw["discharge"]) > 1.0
    assert abs(_shift(fa, tw, "hz")) < 0.05


@pytest.mark.slow
def test_dead_outdoor_fan_trips_at_once(ac_twins: Twins) -> None:
    truth = ac_twins.truth[7]
    assert truth.sudden
    assert truth.notice_at is not None
    assert truth.notice_code == "E8"
    assert 0 <= (truth.notice_at - truth.onset_at).total_seconds() < 2 * 86400


@pytest.mark.slow
def test_notice_comes_after_onset_with_an_error_event(ac_twins: Twins) -> None:
    noticed = [t for t in ac_twins.truth.values() if t.notice_at is not None]
    assert len(noticed) >= 2
    for t in noticed:
        assert t.notice_at is not None
        assert t.notice_at >= t.onset_at
        errors = [
            e
            for e in ac_twins.faulty[t.device_id].events
            if e["type"] == "error" and abs(float(e["epoch_s"]) - t.notice_at.timestamp()) < 1
        ]
        assert errors, f"no error event at the notice of {t.fault}"
