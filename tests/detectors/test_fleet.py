"""The detector on small simulated fleets: every fault found and named, healthy units left alone."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from detectors.api import Finding
from detectors.baseline import CohortBaseline
from detectors.fleet import HousecallDetector
from edge.contract import EVENT_ADAPTER, Fault, Kind, Telemetry
from simulators.fleet import FleetConfig, make_devices
from simulators.washer import WasherUnit
from tests.detectors.fleet_helpers import (
    birth,
    feed,
    messages,
    run_fleet,
    scenario_with,
    small_fleet_config,
    telemetry,
)

AC_FAULTS = [
    Fault.REFRIGERANT_LEAK,
    Fault.CONDENSER_FOULING,
    Fault.OUTDOOR_FAN_FAILURE,
    Fault.DIRTY_FILTER,
    Fault.COMPRESSOR_WEAR,
    Fault.SENSOR_FAULT,
]
WASHER_FAULTS = [
    Fault.BEARING_WEAR,
    Fault.DRAIN_PUMP_CLOG,
    Fault.INLET_VALVE_RESTRICTION,
    Fault.HEATER_FAILURE,
    Fault.MOTOR_BELT_SLIP,
    Fault.SUSPENSION_WEAR,
    Fault.SENSOR_FAULT,
]
#: One kind per fleet, five-minute AC samples and 30 s washer samples: quick to simulate,
#: yet about six units per cohort, so faulty units stay a minority of their cohort.
FLEETS: dict[Kind, dict[str, Any]] = {
    Kind.AC: {"devices": 30, "days": 12, "ac_share": 1.0},
    Kind.WASHER: {"devices": 40, "days": 20, "ac_share": 0.0},
}
SAMPLING: dict[str, Any] = {"ac_interval_s": 300, "washer_interval_s": 30}


def fleet(kind: Kind, seed: int, *, faults: bool) -> FleetConfig:
    size = FLEETS[kind]
    plan: list[tuple[int, Fault, dict[str, object]]] = []
    if faults:
        onset = size["days"] / 2.0
        # Washers show a fault once per cycle (about one a day): they get a longer ramp.
        ramp = 6.0 if kind is Kind.AC else 10.0
        gradual: dict[str, object] = {
            "onset_day": onset - 1.0 if kind is Kind.AC else 6.0,
            "ramp_days": ramp,
            "severity": 1.0,
            "sudden": False,
        }
        kind_faults = AC_FAULTS if kind is Kind.AC else WASHER_FAULTS
        units = busiest_units(kind, seed, size)
        plan += [(units[i], f, gradual) for i, f in enumerate(kind_faults)]
        # The drifting thermistor: the suction line (a drifting room sensor moves a
        # condition of the baseline itself and is not reliably told apart yet).
        sensor: dict[str, object] = {"sensor": "suction_temp_c", "sensor_mode": "drift"}
        if kind is Kind.WASHER:
            sensor = {"sensor": "water_temp_c", "sensor_mode": "stuck", "sudden": True}
        index = kind_faults.index(Fault.SENSOR_FAULT)
        plan[index] = (units[index], Fault.SENSOR_FAULT, {**gradual, **sensor})
        sudden: dict[str, object] = {"onset_day": onset + 2.0, "severity": 1.0, "sudden": True}
        extra = Fault.OUTDOOR_FAN_FAILURE if kind is Kind.AC else Fault.HEATER_FAILURE
        plan.append((units[len(kind_faults)], extra, sudden))
    return FleetConfig(**size, **SAMPLING, seed=seed, scenario=scenario_with(plan))


def busiest_units(kind: Kind, seed: int, size: dict[str, Any]) -> list[int]:
    """Device indices, washers that run most cycles and heat their water first.

    A washer used twice a week shows a fault in too few cycles for a two-week test fleet;
    the habits are read from the simulator's own seeded draw (``WasherUnit``).
    """
    devices = make_devices(FleetConfig(**size, **SAMPLING, seed=seed))
    if kind is Kind.AC:
        return [d.index for d in devices]
    habits = {
        d.index: WasherUnit(d.spec, np.random.default_rng([seed, 5, d.index]))  # type: ignore[arg-type]
        for d in devices
    }
    heats = {"cotton", "cotton60", "synthetic"}
    busy = sorted(habits, key=lambda i: -habits[i].cycles_per_week)
    heating = [i for i in busy if habits[i].favourite in heats]
    # heater and probe faults (indices 3 and 6 of WASHER_FAULTS, and the sudden heater)
    # go to units that heat; the rest to the busiest of the others.
    others = [i for i in busy if i not in heating[:3]]
    return [
        others[0],
        others[1],
        others[2],
        heating[0],
        others[3],
        others[4],
        heating[1],
        heating[2],
    ]


@pytest.mark.slow
@pytest.mark.parametrize("kind", [Kind.AC, Kind.WASHER])
def test_every_fault_is_detected_and_named_on_a_small_fleet(kind: Kind) -> None:
    outcome = run_fleet(fleet(kind, 11, faults=True), HousecallDetector(small_fleet_config()))
    truth = {t.device_id: t for t in outcome.run.truth()}
    kind_faults = AC_FAULTS if kind is Kind.AC else WASHER_FAULTS
    assert len(truth) == len(kind_faults) + 1
    first: dict[str, Fault] = {}
    for finding in sorted(outcome.findings, key=lambda f: f.observed_at):
        first.setdefault(finding.device_id, finding.fault)
    named = {device_id: first.get(device_id) for device_id in truth}
    wrong = {
        d: (truth[d].fault.value, f and f.value)
        for d, f in named.items()
        if f is not truth[d].fault
    }
    assert not wrong, f"missed or misnamed: {wrong}"
    false = [f for f in outcome.findings if f.device_id not in truth]
    assert not false, f"findings on healthy units: {false}"
    for finding in outcome.findings:
        t = truth[finding.device_id]
        assert finding.observed_at >= t.onset_at
        assert finding.evidence
        assert 0.0 < finding.confidence <= 1.0
        assert finding.predicted_failure_at is not None


@pytest.mark.slow
def test_a_healthy_fleet_with_every_confounder_opens_nothing() -> None:
    """Heat waves, cold snaps, power cuts, open windows, glitches, unbalanced loads, new units."""
    config = replace(fleet(Kind.AC, 12, faults=False), ac_share=0.5, devices=40, days=10)
    config = config.healthy_twin()
    confounders = config.confounders
    assert confounders.heat_waves
    assert confounders.cold_snaps
    assert confounders.glitch_rate > 0
    assert confounders.power_cuts_per_month > 0
    assert confounders.unbalanced_share > 0
    assert confounders.windows_per_week > 0
    assert confounders.new_unit_share > 0
    outcome = run_fleet(config, HousecallDetector(small_fleet_config()))
    assert outcome.run.truth() == []
    assert outcome.findings == []


@pytest.mark.slow
def test_state_round_trips_and_continues_identically() -> None:
    """Checkpoint every device mid-run into a fresh detector: both go on to the same signals."""
    config = FleetConfig(devices=16, days=5, seed=13, ac_interval_s=300, washer_interval_s=30)
    _, stream = messages(config)
    original = HousecallDetector(small_fleet_config())
    cut = config.start + timedelta(days=3)
    rest = []
    for message in stream:
        if message.ts < cut:
            feed(original, message)
        else:
            rest.append(message)
    copy = HousecallDetector(small_fleet_config())
    copy.restore_shared(original.snapshot_shared())
    for kind in Kind:  # how far units sit apart judges the units still warming up
        assert copy.unit_spreads[kind].mean_abs == original.unit_spreads[kind].mean_abs
        assert copy.unit_spreads[kind].units == original.unit_spreads[kind].units
    for device_id in original.devices:
        state = original.snapshot(device_id)
        assert state is not None
        copy.restore(device_id, state)
        assert copy.snapshot(device_id) == state
    a = [signal for message in rest for signal in feed(original, message)]
    b = [signal for message in rest for signal in feed(copy, message)]
    assert a == b
    assert {d: original.snapshot(d) for d in original.devices} == {
        d: copy.snapshot(d) for d in copy.devices
    }
    assert sum(len(original.snapshot(d) or b"") for d in original.devices) > 0


def test_restore_shared_refuses_cohorts_of_another_signal_list() -> None:
    original = HousecallDetector()
    original.cohorts[(Kind.WASHER.value, "M", "")] = CohortBaseline(floors=(0.1,) * 15)
    copy = HousecallDetector()
    with pytest.raises(ValueError, match="has 15 signals"):
        copy.restore_shared(original.snapshot_shared())
    assert copy.cohorts == {}


def test_restore_shared_refuses_cohorts_modelling_a_signal_on_other_conditions() -> None:
    from detectors.signatures import WASHER_SIGNALS

    original = HousecallDetector()
    washers = len(WASHER_SIGNALS)
    # Same signal list, but fill time per litre regressed on the conditions (older detector).
    original.cohorts[(Kind.WASHER.value, "M", "")] = CohortBaseline(floors=(0.1,) * washers)
    copy = HousecallDetector()
    with pytest.raises(ValueError, match="other conditions"):
        copy.restore_shared(original.snapshot_shared())
    assert copy.cohorts == {}
    current = HousecallDetector()
    current.cohort(Kind.WASHER, "M", "")
    copy.restore_shared(current.snapshot_shared())
    assert list(copy.cohorts) == [(Kind.WASHER.value, "M", "")]


def test_restore_shared_refuses_cohorts_that_do_not_know_their_units() -> None:
    """A checkpoint from before cohorts counted the units they learned from."""
    original = HousecallDetector()
    del original.cohort(Kind.AC, "M", "cool").units  # as pickled by the older detector
    copy = HousecallDetector()
    with pytest.raises(ValueError, match="units it learned from"):
        copy.restore_shared(original.snapshot_shared())
    assert copy.cohorts == {}


def test_restore_refuses_another_devices_state() -> None:
    detector = HousecallDetector()
    detector.on_birth(birth("ac-1", "ac"))
    state = detector.snapshot("ac-1")
    assert state is not None
    assert detector.snapshot("ac-2") is None
    with pytest.raises(ValueError, match="belongs to ac-1"):
        detector.restore("ac-2", state)


def test_an_error_code_naming_the_part_opens_a_finding_once() -> None:
    detector = HousecallDetector()
    detector.on_birth(birth("ac-7", "ac"))
    event = EVENT_ADAPTER.validate_python(
        {
            "schema": "housecall.event/1",
            "device_id": "ac-7",
            "seq": 1,
            "ts": "2026-06-02T10:00:00Z",
            "type": "error",
            "data": {"code": "E8", "text": "outdoor fan motor locked"},
        },
        strict=False,
    )
    (finding,) = detector.on_event(event)
    assert isinstance(finding, Finding)
    assert finding.fault is Fault.OUTDOOR_FAN_FAILURE
    assert finding.observed_at == event.ts
    assert detector.on_event(event) == ()
    vague = event.model_copy(
        update={"data": event.data.model_copy(update={"text": "high pressure protection"})}
    )
    assert detector.on_event(vague) == ()


def test_late_and_out_of_order_samples_are_counted_and_skipped() -> None:
    detector = HousecallDetector()
    detector.on_birth(birth("ac-8", "ac"))

    def sample(seq: int, minute: int) -> Telemetry:
        at = datetime(2026, 6, 2, 10, minute, tzinfo=UTC)
        return telemetry(
            "ac-8", seq, at, {"mode": "cool", "compressor_hz": 40.0, "room_temp_c": 26.0}
        )

    assert not detector.on_telemetry(sample(1, 10))
    assert not detector.on_telemetry(sample(2, 5))  # older than what we have
    assert not detector.on_telemetry(sample(1, 10))  # a duplicate
    assert detector.late_samples == 2


def test_restore_shared_refuses_a_checkpoint_without_the_units_spread() -> None:
    """A checkpoint of the detector before units were judged in their warm-up."""
    original = HousecallDetector()
    older = pickle.dumps(
        (
            original.cohorts,
            original.diagnosers,
            original.judge.finding_patterns,
            original.judge.epoch_end,
        )
    )
    with pytest.raises(ValueError, match="older detector"):
        HousecallDetector().restore_shared(older)
