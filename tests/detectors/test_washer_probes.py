"""Drifting washer probes: found from what the probes read where the water's state is known.

A drifting level or temperature probe has no physical consequence (the simulated washer,
like a real one with a second pressure switch, still fills and heats right), so only the
readings themselves can tell: the level while spinning with the drum drained (a probe
reading high), the level while washing for the load (a probe reading low too: a drained
drum reads zero whatever the offset), the temperature when the heater stops at the
program's target.
"""

from __future__ import annotations

from typing import Any

import pytest

from detectors.api import Finding
from detectors.fleet import HousecallDetector
from edge.contract import Fault, Kind
from simulators.fleet import FleetConfig
from tests.detectors.fleet_helpers import run_fleet, scenario_with, small_fleet_config
from tests.detectors.test_fleet import FLEETS, SAMPLING, busiest_units


@pytest.mark.slow
def test_drifting_level_and_temperature_probes_are_named_before_they_fail() -> None:
    size: dict[str, Any] = FLEETS[Kind.WASHER]
    units = busiest_units(Kind.WASHER, 11, size)
    # The simulator drifts even-numbered units' probes upwards (a level probe reading high
    # shows while the drum spins empty) and odd-numbered ones downwards.
    level_unit = next(u for u in units if u % 2 == 0 and u != units[3])
    low_level_unit = next(u for u in units if u % 2 == 1 and u != units[3])
    temp_unit = units[3]  # a unit that heats its water
    drift = {"onset_day": 6.0, "ramp_days": 10.0, "severity": 1.0, "sudden": False}
    plan = [
        (
            level_unit,
            Fault.SENSOR_FAULT,
            {**drift, "sensor": "water_level_mm", "sensor_mode": "drift"},
        ),
        (
            low_level_unit,
            Fault.SENSOR_FAULT,
            {**drift, "sensor": "water_level_mm", "sensor_mode": "drift"},
        ),
        (
            temp_unit,
            Fault.SENSOR_FAULT,
            {**drift, "sensor": "water_temp_c", "sensor_mode": "drift"},
        ),
    ]
    config = FleetConfig(**size, **SAMPLING, seed=11, scenario=scenario_with(plan))
    outcome = run_fleet(config, HousecallDetector(small_fleet_config()))
    truth = {t.device_id: t for t in outcome.run.truth()}
    assert len(truth) == 3
    first: dict[str, Finding] = {}
    for finding in sorted(outcome.findings, key=lambda f: f.observed_at):
        first.setdefault(finding.device_id, finding)
    for device_id, t in truth.items():
        found = first.get(device_id)
        assert found is not None, f"{device_id}: drifting probe not found"
        assert found.fault is Fault.SENSOR_FAULT, f"{device_id}: named {found.fault}"
        assert t.onset_at <= found.observed_at
        if t.notice_at is not None:
            assert found.observed_at < t.notice_at, f"{device_id}: found only at the failure"
    healthy = [f for f in outcome.findings if f.device_id not in truth]
    assert not healthy, f"findings on healthy units: {healthy}"
