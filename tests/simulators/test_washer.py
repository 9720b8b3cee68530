"""Washer physics: healthy cycles look like real ones, confounders do not abort them, and
every fault moves its signals the way the signature table says against a healthy twin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from edge.contract import Fault
from simulators.catalog import WASHER_MODELS
from simulators.faults import FaultTruth
from simulators.fleet import FleetConfig
from simulators.scenario import FaultSpec, Scenario
from simulators.washer import (
    PROGRAMS,
    WASHER_FIELDS,
    CycleResult,
    WasherFaults,
    WasherUnit,
    run_cycle,
)
from tests.simulators.twins import DeviceSeries, collect

ROW = {name: i for i, name in enumerate(WASHER_FIELDS)}


def _cycle(
    program: str,
    *,
    load: float = 5.0,
    unbalance: float = 0.15,
    inlet: float = 15.0,
    faults: WasherFaults | None = None,
    model: int = 1,
    pause_s: float = 0.0,
) -> CycleResult:
    unit = WasherUnit(WASHER_MODELS[model], np.random.default_rng(3))
    return run_cycle(
        unit,
        program,
        load_kg=load,
        unbalance_kg=unbalance,
        inlet_c=inlet,
        faults=faults or WasherFaults(),
        rng=np.random.default_rng(4),
        pause_s=pause_s,
    )


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_healthy_cycles_have_plausible_phases_and_energy(program: str) -> None:
    result = _cycle(program)
    s = result.summary
    assert result.error_code is None
    assert 15 * 60 <= float(s["duration_s"]) <= 150 * 60  # type: ignore[arg-type]
    assert 60 <= float(s["fill_time_s"]) <= 8 * 60  # type: ignore[arg-type]
    assert 20 <= float(s["drain_time_s"]) <= 120  # type: ignore[arg-type]
    assert 0.05 <= float(s["energy_wh"]) / 1000 <= 2.0  # type: ignore[arg-type]
    assert 20 <= float(s["water_l"]) <= 90  # type: ignore[arg-type]
    target = min(PROGRAMS[program].spin_rpm, WASHER_MODELS[1].max_spin_rpm)
    assert abs(float(s["max_spin_rpm"]) - target) / target < 0.03  # type: ignore[arg-type]
    phases = result.phases
    assert phases[0] == "fill"
    assert phases[-1] == "spin"
    heater = np.array(result.heater_on)
    temp = result.values[ROW["water_temp_c"]]
    if heater.any():
        assert set(np.array(phases)[heater]) == {"heat"}
        assert temp[heater][-1] >= PROGRAMS[program].target_c - 1.0
        power = result.values[ROW["power_w"]]
        assert np.median(power[heater]) > 1500.0  # the heater's step


def test_winter_water_heats_slower_but_finishes() -> None:
    summer = _cycle("cotton", inlet=22.0)
    winter = _cycle("cotton", inlet=6.0)
    assert winter.error_code is None
    assert float(winter.summary["heat_time_s"]) > 1.3 * float(summer.summary["heat_time_s"])  # type: ignore[arg-type]
    assert float(winter.summary["energy_wh"]) > float(summer.summary["energy_wh"])  # type: ignore[arg-type]


def test_a_towel_bundle_costs_retries_not_an_error() -> None:
    balanced = _cycle("cotton", unbalance=0.1)
    bundle = _cycle("cotton", unbalance=1.2)
    assert bundle.error_code is None
    assert bundle.summary["unbalance_retries"] >= 1  # type: ignore[operator]
    assert balanced.summary["unbalance_retries"] == 0


def test_a_paused_cycle_unlocks_the_door_and_finishes_later() -> None:
    plain = _cycle("synthetic")
    paused = _cycle("synthetic", pause_s=300.0)
    assert paused.error_code is None
    assert [action for _, action in paused.user] == ["pause", "resume"]
    assert not all(paused.door_locked)
    assert all(plain.door_locked)
    extra = float(paused.summary["duration_s"]) - float(plain.summary["duration_s"])  # type: ignore[arg-type]
    assert 290.0 <= extra <= 320.0
    unlocked = ~np.array(paused.door_locked)
    assert np.all(paused.values[ROW["drum_rpm"]][unlocked] == 0.0)


def test_heavy_loads_slow_heating_and_raise_spin_current() -> None:
    light = _cycle("cotton", load=2.0)
    heavy = _cycle("cotton", load=8.5)
    assert heavy.error_code is None
    assert float(heavy.summary["heat_time_s"]) > float(light.summary["heat_time_s"])  # type: ignore[arg-type]
    spin = np.array(heavy.phases) == "spin"
    spin_l = np.array(light.phases) == "spin"
    current = heavy.values[ROW["motor_current_a"]][spin].max()
    assert current > light.values[ROW["motor_current_a"]][spin_l].max()


# -- faults against a healthy twin --------------------------------------------------------------

WASHER_CASES: list[tuple[Fault, dict[str, object]]] = [
    (Fault.BEARING_WEAR, {}),
    (Fault.DRAIN_PUMP_CLOG, {}),
    (Fault.INLET_VALVE_RESTRICTION, {}),
    (Fault.HEATER_FAILURE, {"sudden": False}),
    (Fault.MOTOR_BELT_SLIP, {}),
    (Fault.SUSPENSION_WEAR, {}),
    (Fault.SENSOR_FAULT, {"sensor": "water_temp_c", "sensor_mode": "drift"}),
    (Fault.HEATER_FAILURE, {"sudden": True, "onset_day": 8.0}),
]


@dataclass
class WasherTwins:
    faulty: dict[str, DeviceSeries]
    healthy: dict[str, DeviceSeries]
    truth: dict[int, FaultTruth]


@pytest.fixture(scope="module")
def washer_twins() -> WasherTwins:
    specs = []
    for i, (fault, extra) in enumerate(WASHER_CASES):
        fields: dict[str, object] = {"onset_day": 1.0, "ramp_days": 20.0, "severity": 0.95}
        fields.update(extra)
        specs.append(FaultSpec(device=i, fault=fault, **fields))  # type: ignore[arg-type]
    config = FleetConfig(
        devices=len(WASHER_CASES),
        days=24.0,
        seed=5,
        ac_share=0.0,
        scenario=Scenario(faults=tuple(specs), explicit_only=True),
        regions=("IT-62",),
    )
    faulty, truth = collect(config)
    healthy, _ = collect(config.healthy_twin())
    return WasherTwins(faulty, healthy, {int(t.device_id.split("-")[1]): t for t in truth})


def _cycles(series: DeviceSeries) -> list[dict[str, Any]]:
    return [e for e in series.events if e["type"] == "cycle_end"]


def _paired_cycles(
    twins: WasherTwins, index: int, *, from_level: float = 0.3
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(faulty, twin) summaries of the same laundry, once the fault has progressed."""
    truth = twins.truth[index]
    a = _cycles(twins.faulty[truth.device_id])
    b = _cycles(twins.healthy[truth.device_id])
    onset = truth.onset_at.timestamp()
    begin = onset + from_level * truth.ramp_days * 86400
    pairs = [
        (x["data"], y["data"])
        for x, y in zip(a, b, strict=False)
        if x["epoch_s"] > begin and x["data"]["program"] == y["data"]["program"]
    ]
    assert len(pairs) >= 3, f"too few comparable cycles for {truth.fault}"
    return pairs


def _telemetry(series: DeviceSeries, phase: str, since: float) -> dict[str, np.ndarray]:
    keep = (np.array(series.modes) == phase) & (series.ts > since)
    return {name: series.col(name)[keep] for name in series.columns}


def _since(twins: WasherTwins, index: int, fraction: float = 0.5) -> float:
    truth = twins.truth[index]
    return truth.onset_at.timestamp() + fraction * truth.ramp_days * 86400


@pytest.mark.slow
def test_bearing_wear_signature(washer_twins: WasherTwins) -> None:
    pairs = _paired_cycles(washer_twins, 0)
    assert (
        np.mean(
            [
                a["spin_vibration_rms_g"] - b["spin_vibration_rms_g"]
                for a, b in pairs
                if a["spin_vibration_rms_g"] and b["spin_vibration_rms_g"]
            ]
        )
        > 0.02
    )
    device = washer_twins.truth[0].device_id
    since = _since(washer_twins, 0)
    fa = _telemetry(washer_twins.faulty[device], "spin", since)
    tw = _telemetry(washer_twins.healthy[device], "spin", since)
    fast_a = fa["drum_rpm"] > 800
    fast_b = tw["drum_rpm"] > 800
    assert (
        np.mean(fa["x_vibration_kurtosis"][fast_a])
        > np.mean(tw["x_vibration_kurtosis"][fast_b]) + 0.5
    )
    assert np.mean(fa["motor_current_a"][fast_a]) > np.mean(tw["motor_current_a"][fast_b])


@pytest.mark.slow
def test_drain_pump_clog_signature(washer_twins: WasherTwins) -> None:
    pairs = _paired_cycles(washer_twins, 1)
    longer = [a["drain_time_s"] - b["drain_time_s"] for a, b in pairs if a["drain_time_s"]]
    assert np.mean(longer) > 10.0
    device = washer_twins.truth[1].device_id
    since = _since(washer_twins, 1)
    fa = _telemetry(washer_twins.faulty[device], "drain", since)["drain_pump_current_a"]
    tw = _telemetry(washer_twins.healthy[device], "drain", since)["drain_pump_current_a"]
    assert abs(np.median(fa) - np.median(tw)) > 0.03  # jammed: up, dry-running: down


@pytest.mark.slow
def test_inlet_valve_restriction_signature(washer_twins: WasherTwins) -> None:
    pairs = _paired_cycles(washer_twins, 2)
    assert np.mean([a["fill_time_s"] / b["fill_time_s"] for a, b in pairs]) > 1.2


@pytest.mark.slow
def test_heater_scale_signature(washer_twins: WasherTwins) -> None:
    device = washer_twins.truth[3].device_id
    since = _since(washer_twins, 3, 0.4)

    def ramp_k_per_min(series: DeviceSeries) -> float:
        heat = _telemetry(series, "heat", since)
        temp = heat["water_temp_c"]
        steps = np.diff(temp)
        return float(np.median(steps[(steps > 0) & (steps < 2)]) * 6.0)  # 10 s samples

    assert ramp_k_per_min(washer_twins.faulty[device]) < 0.8 * ramp_k_per_min(
        washer_twins.healthy[device]
    )
    pairs = _paired_cycles(washer_twins, 3, from_level=0.4)
    assert np.mean([a["heat_time_s"] - b["heat_time_s"] for a, b in pairs]) > 60.0


@pytest.mark.slow
def test_open_heater_element_is_sudden_and_aborts_the_cycle(washer_twins: WasherTwins) -> None:
    truth = washer_twins.truth[7]
    assert truth.sudden
    assert truth.notice_at is not None
    assert truth.notice_code == "E05"
    series = washer_twins.faulty[truth.device_id]
    heat = _telemetry(series, "heat", truth.onset_at.timestamp())
    assert np.nanmax(heat["power_w"]) < 500.0  # no heater step in the power
    # Heater on, water warming only toward the room: far below a working element's ramp.
    minutes = len(heat["water_temp_c"]) / 6.0
    per_cycle = 80.0  # the heating timeout, minutes
    rise = np.clip(np.diff(heat["water_temp_c"]), 0.0, 0.5).sum()
    assert rise / minutes < 0.1
    assert minutes >= per_cycle


@pytest.mark.slow
def test_belt_slip_signature(washer_twins: WasherTwins) -> None:
    device = washer_twins.truth[4].device_id
    since = _since(washer_twins, 4)

    def tracking(series: DeviceSeries) -> float:
        spin = _telemetry(series, "spin", since)
        held = spin["target_rpm"] > 700
        return float(np.mean(spin["drum_rpm"][held] / spin["target_rpm"][held]))

    assert tracking(washer_twins.faulty[device]) < tracking(washer_twins.healthy[device]) - 0.03
    pairs = _paired_cycles(washer_twins, 4)
    assert np.mean([a["max_spin_rpm"] - b["max_spin_rpm"] for a, b in pairs]) < -20.0


@pytest.mark.slow
def test_suspension_wear_signature(washer_twins: WasherTwins) -> None:
    device = washer_twins.truth[5].device_id
    since = _since(washer_twins, 5)

    def mid_speed_vibration(series: DeviceSeries) -> float:
        spin = _telemetry(series, "spin", since)
        band = (spin["drum_rpm"] > 200) & (spin["drum_rpm"] < 600)
        return float(np.mean(spin["vibration_rms_g"][band]))

    assert mid_speed_vibration(washer_twins.faulty[device]) > 1.3 * mid_speed_vibration(
        washer_twins.healthy[device]
    )
    pairs = _paired_cycles(washer_twins, 5)
    assert sum(a["unbalance_retries"] for a, _ in pairs) > sum(
        b["unbalance_retries"] for _, b in pairs
    )


@pytest.mark.slow
def test_water_probe_drift_signature(washer_twins: WasherTwins) -> None:
    device = washer_twins.truth[6].device_id
    since = _since(washer_twins, 6)
    fa = _telemetry(washer_twins.faulty[device], "wash", since)
    tw = _telemetry(washer_twins.healthy[device], "wash", since)
    assert abs(np.mean(fa["water_temp_c"]) - np.mean(tw["water_temp_c"])) > 2.0


@pytest.mark.slow
def test_washer_notice_is_an_aborted_cycle_after_onset(washer_twins: WasherTwins) -> None:
    noticed = [t for t in washer_twins.truth.values() if t.notice_at is not None]
    assert len(noticed) >= 4
    for t in noticed:
        assert t.notice_at is not None
        assert t.notice_at >= t.onset_at
        ends = [
            e
            for e in washer_twins.faulty[t.device_id].events
            if e["type"] == "cycle_end" and abs(e["epoch_s"] - t.notice_at.timestamp()) < 1
        ]
        assert ends
        assert ends[0]["data"]["error_code"] == t.notice_code
    # The healthy twins never abort.
    for series in washer_twins.healthy.values():
        assert not [e for e in series.events if e["type"] == "error"]
