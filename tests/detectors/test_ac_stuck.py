"""A thermistor is stuck when its reading stays put longer than its own changes allow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.api import Finding
from detectors.fleet import HousecallDetector
from edge.contract import Fault, Telemetry
from tests.detectors.fleet_helpers import birth, telemetry

START = datetime(2026, 6, 19, 7, 0, tzinfo=UTC)


def _sample(
    minute: int, discharge: float, *, running: bool = True, mode: str = "cool"
) -> Telemetry:
    """A cooling sample a minute apart; every other thermistor's last digit moves."""

    def moving(base: float, shift: int) -> float:
        return round(base + 0.1 * ((minute + shift) % 2), 1)

    readings: dict[str, object] = {
        "mode": mode,
        "setpoint_c": 22.0,
        "room_temp_c": moving(24.0, 0),
        "supply_temp_c": moving(13.0, 1),
        "outdoor_temp_c": 33.0,
        "indoor_coil_temp_c": moving(9.0, 0),
        "outdoor_coil_temp_c": moving(45.0, 1),
        "suction_temp_c": moving(15.0, 0),
        "discharge_temp_c": discharge,
        "compressor_hz": 50.0 if running else 0.0,
        "compressor_current_a": 5.0,
        "eev_steps": 200.0,
        "indoor_fan_rpm": 1000.0,
        "outdoor_fan_rpm": 800.0,
    }
    return telemetry("ac-1", minute, START + timedelta(minutes=minute), readings)


def _found(samples: list[Telemetry]) -> list[tuple[int, Finding]]:
    """Sensor-fault findings of a new unit fed ``samples``, with the sample's minute."""
    detector = HousecallDetector()
    detector.on_birth(birth("ac-1", "ac"))
    return [
        (sample.seq, s)
        for sample in samples
        for s in detector.on_telemetry(sample)
        if isinstance(s, Finding) and s.fault is Fault.SENSOR_FAULT
    ]


def _run(discharge: list[float]) -> list[tuple[int, Finding]]:
    return _found([_sample(minute, value) for minute, value in enumerate(discharge)])


def _moving(n: int) -> list[float]:
    """A discharge reading that follows the refrigerant: never the same twice running."""
    return [round(70.0 + 0.3 * ((i * 3) % 7 - 3), 1) for i in range(n)]


def test_a_reading_that_always_moved_is_stuck_after_ten_repeats() -> None:
    """Seed 1903's ac-000024 ran 12 minutes with its discharge thermistor stuck."""
    healthy = _moving(600)  # ten hours of running teach the unit how its reading moves
    found = _run([*healthy, *([healthy[-1]] * 15)])
    assert [minute - 599 for minute, _ in found] == [10]
    evidence = found[0][1].evidence[0]
    assert evidence.signal == "discharge_temp_c_change"
    assert evidence.baseline == 10


def test_a_new_unit_waits_for_the_longer_run_until_it_knows_its_readings() -> None:
    found = _run([*_moving(20), *([69.1] * 30)])
    assert [minute - 20 for minute, _ in found] == [22]


def test_a_short_cycling_unit_is_named_within_the_run_its_thermistor_sticks_in() -> None:
    """Seed 2103's ac-000222 ran 23 minutes in every 68; its coil thermistor stuck.

    Every running sample counts, the first two minutes of a run too: counted from the
    third, the 24-minute run holds 21 repeats of the 22 a new unit needs, and the
    thermistor is named a run later, over an hour after the unit first ran with it.
    """
    moving = _moving(24 * 3)
    samples: list[Telemetry] = []
    for run in range(4):
        start = run * 69
        samples.extend(
            _sample(start + k, moving[run * 24 + k] if run < 3 else 69.1) for k in range(24)
        )
        samples.append(_sample(start + 24, 70.0, running=False))  # then 45 minutes off
    found = [minute for minute, _ in _found(samples)]
    assert [m - (3 * 69) for m in found] == [22]


def _with(samples: list[Telemetry], since: int, **readings: float) -> list[Telemetry]:
    """``samples`` with ``readings`` held from minute ``since`` on."""
    return [
        s.model_copy(update={"readings": s.readings.model_copy(update=readings)})
        if s.seq >= since
        else s
        for s in samples
    ]


def test_a_room_probe_stuck_as_the_unit_goes_idle_is_named_while_it_waits() -> None:
    """Seed 2201's ac-000352: a room probe stuck ten minutes before the thermostat stopped
    the compressor, then read the same for fifteen idle hours; named in the next run.

    Idle, an air probe's repeats count against the 22 any new unit is allowed.
    """
    healthy = _moving(640)
    samples = [
        # the compressor stops five samples into the stuck run
        _sample(minute, healthy[minute], running=minute < 605)
        for minute in range(640)
    ]
    found = [minute for minute, _ in _found(_with(samples, 600, room_temp_c=24.5))]
    assert [minute - 600 for minute in found] == [22]


def test_a_pipe_stuck_as_the_unit_goes_idle_is_named_five_minutes_into_the_stop() -> None:
    """Seed 2602's ac-000184: a discharge thermistor stuck 20 K above the outdoor air
    eight minutes before a stop, then off for 8.5 hours: a pipe that the stop does not
    move is stuck (``RUN_MOVE_S``); counted, it waited for the next run."""
    healthy = _moving(600)
    samples = [
        _sample(minute, healthy[minute] if minute < 600 else 69.1, running=minute < 605)
        for minute in range(640)
    ]
    found = [minute for minute, _ in _found(samples)]
    assert [minute - 605 for minute in found][:1] == [5]
    off = [
        _sample(minute, healthy[minute] if minute < 600 else 69.1, mode="off", running=False)
        if minute >= 605
        else _sample(minute, healthy[minute] if minute < 600 else 69.1)
        for minute in range(640)
    ]
    assert [minute - 605 for minute, _ in _found(off)][:1] == [5]


def test_a_pipe_settled_to_the_night_air_while_idle_is_not_stuck() -> None:
    """Seed 2603's ac-000324: a healthy outdoor coil read the outdoor air, 21.5 °C, for 22
    idle samples in cooling mode; the idle count named it stuck."""
    healthy = _moving(700)
    samples = [
        _sample(minute, healthy[minute], running=not 600 <= minute < 660) for minute in range(700)
    ]
    settled = _with(samples[:660], 600, outdoor_coil_temp_c=33.0) + samples[660:]
    assert _found(settled) == []


def test_a_thermistor_stuck_while_the_unit_dries_is_named_while_it_dries() -> None:
    """Seed 2203's ac-000301: a room probe stuck in twelve hours of drying."""
    healthy = _moving(600)
    samples = [
        _sample(minute, healthy[minute], mode="cool")
        if minute < 600
        else _sample(minute, 69.1, mode="dry")
        for minute in range(640)
    ]
    found = [minute for minute, _ in _found(samples)]
    assert [minute - 600 for minute in found] == [10]


def test_a_pipe_settled_while_idle_is_not_stuck_when_the_next_run_starts() -> None:
    """A discharge pipe settles to the air while the unit waits and reads the same for
    the first minutes of the next run: its idle repeats are judged at the bar for idle
    samples (22), not at the ten its running rate allows."""
    healthy = _moving(600)
    samples = [_sample(minute, healthy[minute]) for minute in range(600)]
    samples += [_sample(minute, 30.0, running=False) for minute in range(600, 615)]
    samples += [_sample(minute, 30.0) for minute in range(615, 618)]  # the run starts cold
    samples += [_sample(minute, healthy[minute - 618]) for minute in range(618, 700)]
    assert _found(samples) == []


def test_a_thermistor_stuck_while_idle_is_named_five_minutes_into_the_next_run() -> None:
    """A pipe reading that the compressor's start does not move is stuck (``RUN_MOVE_S``)."""
    healthy = _moving(600)
    samples = [_sample(minute, healthy[minute]) for minute in range(600)]
    samples += [_sample(minute, 30.0, running=False) for minute in range(600, 615)]
    samples += [_sample(minute, 30.0) for minute in range(615, 660)]
    found = [minute for minute, _ in _found(samples)]
    assert [minute - 615 for minute in found] == [5]


def test_a_thermistor_stuck_while_the_unit_is_off_is_named_early_in_a_short_run() -> None:
    """Seed 2303's ac-000411: an outdoor-coil thermistor stuck while the unit was off,
    then an 11-minute run: off samples are not counted, so the run held 11 repeats of the
    22 its bar needed, and the unit was named only in a run 14 hours later."""
    healthy = _moving(600)
    samples = [_sample(minute, healthy[minute]) for minute in range(600)]
    samples += [_sample(minute, 30.0, mode="off", running=False) for minute in range(600, 700)]
    samples += [_sample(minute, 30.0) for minute in range(700, 711)]
    found = [minute for minute, _ in _found(samples)]
    assert [minute - 700 for minute in found] == [5]
    evidence = _found(samples)[0][1].evidence[0]
    assert evidence.signal == "discharge_temp_c_change"


def test_a_room_probe_held_as_the_compressor_starts_is_judged_by_its_count() -> None:
    """The room does not jump when the compressor starts: only coil and pipe readings
    are held to moving within ``RUN_MOVE_S`` (here ten idle and ten running repeats, of
    the 22 a new unit's room probe is allowed)."""
    healthy = _moving(620)
    samples = [
        _sample(minute, healthy[minute], running=not 600 <= minute < 610) for minute in range(620)
    ]
    assert _found(_with(samples, 600, room_temp_c=24.5)) == []
