"""The heating ramp reads the same on a short heating as on a long one."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from detectors.fleet import HousecallDetector
from detectors.signatures import RAMP
from edge.contract import Telemetry
from tests.detectors.fleet_helpers import birth, cycle_end, record_judged, telemetry

START = datetime(2026, 7, 19, 7, 0, tzinfo=UTC)
K_PER_MIN = 1.4


def _sample(seq: int, phase: str, temp: float, *, heater_on: bool) -> Telemetry:
    readings: dict[str, object] = {
        "phase": phase,
        "heater_on": heater_on,
        "water_temp_c": temp,
        "target_temp_c": 30.0,
        "power_w": 2050.0 if heater_on else 110.0,
    }
    return telemetry("wm-1", seq, START + timedelta(seconds=10 * seq), readings)


def _judged_ramp(inlet_c: float, target_c: float) -> float:
    """The ramp (K/min) a cycle heating at ``K_PER_MIN`` from ``inlet_c`` is judged on."""
    detector = HousecallDetector()
    detector.on_birth(birth("wm-1", "washer"))
    judged = record_judged(detector)
    seq = 1
    detector.on_telemetry(_sample(seq, "fill", inlet_c, heater_on=False))
    temp = inlet_c
    while temp < target_c:  # a reading every 10 s, the water warming steadily
        seq += 1
        detector.on_telemetry(_sample(seq, "heat", round(temp, 2), heater_on=True))
        temp += K_PER_MIN / 6.0
    seq += 1
    detector.on_telemetry(_sample(seq, "wash", round(temp, 2), heater_on=False))
    end = START + timedelta(seconds=10 * seq + 60)
    detector.on_event(cycle_end("wm-1", end, {"program": "wool", "load_kg": 1.5}))
    assert len(judged) == 1
    return math.exp(judged[0][RAMP])


@pytest.mark.parametrize(("inlet_c", "target_c"), [(26.0, 30.0), (22.0, 30.0), (15.0, 60.0)])
def test_the_ramp_does_not_depend_on_how_long_the_heating_lasted(
    inlet_c: float, target_c: float
) -> None:
    # Three minutes of heating (summer inlet water, a 30 °C wash) or thirty: the same
    # heater warms the water at the same rate. Timed over the whole span, the first read
    # 10% slow and the second 1% (seed 9002: a healthy unit drifted into a heater order).
    assert _judged_ramp(inlet_c, target_c) == pytest.approx(K_PER_MIN, rel=0.01)
