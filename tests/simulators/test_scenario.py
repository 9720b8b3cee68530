"""Scenario files: what they accept and how they refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.contract import Fault
from simulators.fleet import FleetConfig, FleetRun
from simulators.scenario import Scenario, ScenarioError

FULL = """
fault_rate = 0.4
ac_share = 0.5

[mix]
refrigerant_leak = 3.0
bearing_wear = 1.0

[confounders]
heat_waves = false
power_cuts_per_month = 0.0

[[fault]]
device = "ac-000002"
fault = "sensor_fault"
onset_day = 2.5
ramp_days = 10
severity = 0.8
sensor = "room_temp_c"
sensor_mode = "stuck"
"""


def test_a_full_scenario_reads(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(FULL)
    scenario = Scenario.from_toml(path)
    assert scenario.fault_rate == 0.4
    assert scenario.ac_share == 0.5
    assert scenario.mix[Fault.REFRIGERANT_LEAK] == 3.0
    assert scenario.confounders.heat_waves is False
    (spec,) = scenario.faults
    assert spec.device == "ac-000002"
    assert spec.sensor_mode == "stuck"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fault_rate = 2", "between 0 and 1"),
        ("colour = 'red'", "unknown keys"),
        ("[mix]\nleak = 1", "unknown fault 'leak'"),
        ("[confounders]\nrain = true", "unknown confounders"),
        ("[[fault]]\nfault = 'dirty_filter'", "needs 'device' and 'fault'"),
        ("fault_rate = [", "not valid TOML"),
    ],
)
def test_bad_scenarios_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ScenarioError, match=fragment):
        Scenario.from_toml_text(text)


def test_explicit_faults_land_where_the_scenario_says() -> None:
    scenario = Scenario.from_toml_text(FULL)
    config = FleetConfig(devices=10, days=5, seed=1, scenario=scenario)
    run = FleetRun(config)
    assert run.devices[0].kind.value in ("ac", "washer")
    ac2 = [p for p in run.plans if run.devices[p.device].device_id == "ac-000002"]
    if run.devices[2].device_id == "ac-000002":
        (plan,) = ac2
        assert plan.fault is Fault.SENSOR_FAULT
        assert plan.sensor == "room_temp_c"
        assert plan.onset_s == config.start.timestamp() + 2.5 * 86400


def test_a_fault_of_the_wrong_kind_is_refused() -> None:
    scenario = Scenario.from_toml_text("[[fault]]\ndevice = 0\nfault = 'bearing_wear'\n")
    with pytest.raises(ValueError, match="not a ac fault"):
        FleetRun(FleetConfig(devices=3, days=1, ac_share=1.0, scenario=scenario))


def test_a_device_outside_the_fleet_is_refused() -> None:
    scenario = Scenario.from_toml_text("[[fault]]\ndevice = 7\nfault = 'dirty_filter'\n")
    with pytest.raises(ValueError, match="not in a fleet of 3"):
        FleetRun(FleetConfig(devices=3, days=1, ac_share=1.0, scenario=scenario))
