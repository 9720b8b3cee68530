"""Stuck probes that no heating reveals: a flat temperature through a cold wash, an empty
drum read while heating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.api import Finding
from detectors.fleet import HousecallDetector
from edge.contract import Fault
from tests.detectors.fleet_helpers import birth, telemetry

START = datetime(2026, 6, 19, 7, 0, tzinfo=UTC)


def _cold_cycle(temps: dict[str, list[float]], *, level_mm: float = 60.0) -> list[Finding]:
    """Feed a cold cycle phase by phase (a sample every 10 s) and return its findings."""
    detector = HousecallDetector()
    detector.on_birth(birth("wm-1", "washer"))
    found: list[Finding] = []
    seq = 0
    for phase, readings in temps.items():
        for temp in readings:
            seq += 1
            sample = telemetry(
                "wm-1",
                seq,
                START + timedelta(seconds=10 * seq),
                {
                    "phase": phase.rstrip("0123456789"),
                    "heater_on": False,
                    "water_temp_c": temp,
                    "target_temp_c": 20.0,
                    "water_level_mm": 0.0 if phase.startswith(("fill", "drain")) else level_mm,
                    "power_w": 150.0,
                },
            )
            found += [s for s in detector.on_telemetry(sample) if isinstance(s, Finding)]
    return found


def _minutes(n: float, value: float) -> list[float]:
    return [value] * int(n * 6)


def test_a_reading_that_stays_put_through_a_wash_and_the_rinse_water_is_a_stuck_probe() -> None:
    phases = {
        "fill": _minutes(2, 18.0),
        "wash": _minutes(12, 18.0),
        "drain": _minutes(1, 18.0),
        "spin": _minutes(2, 18.0),
        "fill2": _minutes(1.5, 18.0),
        "rinse": _minutes(5, 18.0),
    }
    phases["wash"][40] = 43.0  # one glitch is forgiven
    found = _cold_cycle(phases)
    assert [f.fault for f in found] == [Fault.SENSOR_FAULT]
    assert found[0].evidence[0].signal == "water_temp_c_change"


def test_a_healthy_probe_follows_the_wash_water_drifting_and_the_rinse_water() -> None:
    wash = [round(18.0 - 0.024 * i / 6, 1) for i in range(12 * 6)]  # 0.024 K a minute
    phases = {
        "fill": _minutes(2, 18.0),
        "wash": wash,
        "drain": _minutes(1, wash[-1]),
        "spin": _minutes(2, wash[-1]),
        "fill2": _minutes(1.5, wash[-1]),
        "rinse": _minutes(5, 18.0),
    }
    assert _cold_cycle(phases) == []


def test_a_flat_reading_is_not_judged_before_the_rinse_water_came_in() -> None:
    phases = {"fill": _minutes(2, 18.0), "wash": _minutes(30, 18.0), "drain": _minutes(1, 18.0)}
    assert _cold_cycle(phases) == []


def test_heating_an_empty_drum_is_a_level_probe_that_reads_wrong() -> None:
    detector = HousecallDetector()
    detector.on_birth(birth("wm-1", "washer"))
    found: list[Finding] = []
    for seq in range(1, 30):
        readings = {
            "phase": "heat",
            "heater_on": True,
            "water_temp_c": 15.0 + 0.2 * seq,
            "target_temp_c": 60.0,
            "water_level_mm": 1.0,
            "power_w": 2100.0,
        }
        sample = telemetry("wm-1", seq, START + timedelta(seconds=10 * seq), readings)
        found += [s for s in detector.on_telemetry(sample) if isinstance(s, Finding)]
    assert [f.fault for f in found] == [Fault.SENSOR_FAULT]
    assert found[0].evidence[0].signal == "water_level_mm"
    assert found[0].observed_at <= START + timedelta(minutes=4)
