"""A washer's fill is judged per litre of water let in, where the firmware reports it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from detectors.fleet import HousecallDetector
from detectors.signatures import FILL, FILL_L
from simulators.catalog import WASHER_MODELS
from simulators.washer import PROGRAMS, WasherFaults, WasherUnit, run_cycle
from tests.detectors.fleet_helpers import birth, cycle_end, record_judged, telemetry

START = datetime(2026, 6, 19, 7, 0, tzinfo=UTC)


def _judged_y(summary: dict[str, Any]) -> list[float]:
    """The derived signals one cycle with this ``cycle_end`` summary is judged on."""
    detector = HousecallDetector()
    detector.on_birth(birth("wm-1", "washer"))
    judged = record_judged(detector)
    fill = {"phase": "fill", "water_level_mm": 10.0, "power_w": 20.0}
    detector.on_telemetry(telemetry("wm-1", 1, START, fill))
    detector.on_event(cycle_end("wm-1", START + timedelta(minutes=90), summary))
    assert len(judged) == 1
    return judged[0]


def test_with_the_water_reported_the_fill_is_judged_per_litre() -> None:
    y = _judged_y({"program": "cotton", "fill_time_s": 212, "water_l": 48.5, "load_kg": 6.5})
    assert y[FILL_L] == pytest.approx(math.log(212 / 48.5))
    assert math.isnan(y[FILL])  # one of the two, never both: they would count twice


def test_without_it_the_fill_time_itself_is_judged() -> None:
    y = _judged_y({"program": "cotton", "fill_time_s": 212, "load_kg": 6.5})
    assert y[FILL] == pytest.approx(math.log(212))
    assert math.isnan(y[FILL_L])


def test_per_litre_one_healthy_unit_fills_alike_whatever_the_program_and_load() -> None:
    # Why per litre: the fill time follows the program's rinses and the load, which a
    # cohort must learn; the time per litre is the inlet flow, one figure per home.
    unit = WasherUnit(WASHER_MODELS[1], np.random.default_rng(3))
    times, per_litre = [], []
    for i, (program, load) in enumerate(
        [("quick", 2.0), ("cotton", 7.0), ("synthetic", 4.0), ("cotton60", 3.0), ("wool", 1.0)]
    ):
        assert program in PROGRAMS
        s = run_cycle(
            unit,
            program,
            load_kg=load,
            unbalance_kg=0.15,
            inlet_c=15.0,
            faults=WasherFaults(),
            rng=np.random.default_rng(10 + i),
        ).summary
        times.append(float(s["fill_time_s"]))  # type: ignore[arg-type]
        per_litre.append(float(s["fill_time_s"]) / float(s["water_l"]))  # type: ignore[arg-type]
    assert max(times) / min(times) > 1.8
    assert max(per_litre) / min(per_litre) < 1.1
