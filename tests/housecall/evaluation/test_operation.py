"""Sudden faults are timed from the appliance's first operation after the onset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.contract import Fault, Kind, Telemetry
from housecall.evaluation.runner import Activity, truths_with_operation
from simulators.faults import FaultTruth
from tests.detectors.fleet_helpers import telemetry

NIGHT = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)


def fault(
    device_id: str,
    kind: Fault,
    sudden: bool,
    *,
    appliance: Kind = Kind.AC,
    detail: str | None = None,
) -> FaultTruth:
    return FaultTruth(
        device_id=device_id,
        kind=appliance,
        brand="B",
        model="M",
        fault=kind,
        onset_at=NIGHT,
        notice_at=NIGHT + timedelta(hours=9),
        sudden=sudden,
        severity=1.0,
        ramp_days=20.0,
        detail=detail,
    )


def test_a_fan_dying_at_night_is_timed_from_the_next_morning_run() -> None:
    activity = Activity()
    morning = NIGHT + timedelta(hours=6)
    activity.segments["ac-1"] = [
        [(NIGHT - timedelta(hours=3)).timestamp(), (NIGHT - timedelta(hours=2)).timestamp()],
        [morning.timestamp(), (morning + timedelta(hours=1)).timestamp()],
    ]
    truths = truths_with_operation(
        [fault("ac-1", Fault.OUTDOOR_FAN_FAILURE, True), fault("ac-1", Fault.DIRTY_FILTER, False)],
        activity,
    )
    assert truths[0].operating_at == morning
    assert truths[0].onset_at == NIGHT
    assert truths[1].operating_at is None


def test_a_fault_striking_while_running_is_timed_from_its_onset() -> None:
    activity = Activity()
    activity.segments["ac-2"] = [
        [(NIGHT - timedelta(minutes=5)).timestamp(), (NIGHT + timedelta(hours=1)).timestamp()]
    ]
    (truth,) = truths_with_operation([fault("ac-2", Fault.OUTDOOR_FAN_FAILURE, True)], activity)
    assert truth.operating_at == NIGHT


def test_an_open_heater_is_timed_from_the_next_heating_not_a_cold_wash() -> None:
    """A cold program the morning after shows nothing; the evening's hot wash does."""
    activity = Activity()
    cold_wash = NIGHT + timedelta(hours=6)
    hot_wash = NIGHT + timedelta(hours=18)
    heating = hot_wash + timedelta(minutes=8)
    activity.segments["wm-1"] = [
        [cold_wash.timestamp(), (cold_wash + timedelta(hours=1)).timestamp()],
        [hot_wash.timestamp(), (hot_wash + timedelta(hours=2)).timestamp()],
    ]
    heated_until = heating + timedelta(minutes=20)
    activity.heating["wm-1"] = [[heating.timestamp(), heated_until.timestamp()]]
    heater, probe, level = truths_with_operation(
        [
            fault("wm-1", Fault.HEATER_FAILURE, True, appliance=Kind.WASHER),
            fault(
                "wm-1", Fault.SENSOR_FAULT, True, appliance=Kind.WASHER, detail="stuck:water_temp_c"
            ),
            fault(
                "wm-1",
                Fault.SENSOR_FAULT,
                True,
                appliance=Kind.WASHER,
                detail="stuck:water_level_mm",
            ),
        ],
        activity,
    )
    assert heater.operating_at == heating
    assert probe.operating_at == heating
    assert level.operating_at == cold_wash


def test_a_washer_fault_striking_mid_cycle_is_timed_from_the_next_cycle() -> None:
    """The simulator draws a cycle's faults when it starts (seed 9002's wm-000013)."""
    activity = Activity()
    start = NIGHT - timedelta(minutes=30)
    for minute in range(60):  # a cycle running through the onset...
        activity.note(_washer_sample(start + timedelta(minutes=minute)))
    activity.note_cycle_end("wm-2")
    later = NIGHT + timedelta(days=3)
    for minute in range(3):  # ...and the next one, three days later
        activity.note(_washer_sample(later + timedelta(minutes=minute), heater_on=minute > 0))
    level, probe, fan = truths_with_operation(
        [
            fault(
                "wm-2",
                Fault.SENSOR_FAULT,
                True,
                appliance=Kind.WASHER,
                detail="stuck:water_level_mm",
            ),
            fault(
                "wm-2", Fault.SENSOR_FAULT, True, appliance=Kind.WASHER, detail="stuck:water_temp_c"
            ),
            fault("wm-2", Fault.OUTDOOR_FAN_FAILURE, True),  # an AC's fault holds at once
        ],
        activity,
    )
    assert level.operating_at == later
    assert probe.operating_at == later + timedelta(minutes=1)
    assert fan.operating_at == NIGHT


def test_back_to_back_washer_cycles_are_separate_segments() -> None:
    activity = Activity()
    activity.note(_washer_sample(NIGHT))
    activity.note_cycle_end("wm-2")
    activity.note(_washer_sample(NIGHT + timedelta(minutes=2)))
    assert len(activity.segments["wm-2"]) == 2


def _washer_sample(ts: datetime, *, heater_on: bool = False) -> Telemetry:
    readings: dict[str, object] = {"phase": "heat" if heater_on else "wash", "heater_on": heater_on}
    return telemetry("wm-2", 1, ts, readings)


def test_a_fault_on_an_appliance_that_never_runs_again_is_marked_not_operated() -> None:
    """Seed 1601's ac-000061 lost its fan while off and stayed off to the end of the run."""
    activity = Activity()
    activity.segments["ac-3"] = [
        [(NIGHT - timedelta(hours=3)).timestamp(), (NIGHT - timedelta(hours=2)).timestamp()]
    ]
    sudden, gradual = truths_with_operation(
        [fault("ac-3", Fault.OUTDOOR_FAN_FAILURE, True), fault("ac-3", Fault.DIRTY_FILTER, False)],
        activity,
    )
    assert sudden.operating_at is None
    assert not sudden.operated
    assert gradual.operated
