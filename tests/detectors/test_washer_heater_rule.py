"""The heater rule reads the probe through its last three readings, not one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.api import Finding
from detectors.fleet import HousecallDetector
from edge.contract import Fault, Telemetry
from tests.detectors.fleet_helpers import birth, telemetry

START = datetime(2026, 6, 19, 7, 0, tzinfo=UTC)


def _detector() -> HousecallDetector:
    detector = HousecallDetector()
    detector.on_birth(birth("wm-1", "washer"))
    return detector


def _sample(
    seq: int, temp: float, *, heater_on: bool, target_c: float, power_w: float
) -> Telemetry:
    """One heat-phase sample of wm-1, ``seq`` x 10 s after the start."""
    readings: dict[str, object] = {
        "phase": "heat",
        "heater_on": heater_on,
        "water_temp_c": temp,
        "target_temp_c": target_c,
        "power_w": power_w,
    }
    return telemetry("wm-1", seq, START + timedelta(seconds=10 * seq), readings)


def _heating(
    detector: HousecallDetector, temps: list[float], power_w: float, target_c: float = 60.0
) -> list[Finding]:
    """Feed one heating phase, a sample every 10 s, and return the findings it opened."""
    found: list[Finding] = []
    for seq, temp in enumerate(temps, start=1):
        sample = _sample(seq, temp, heater_on=True, target_c=target_c, power_w=power_w)
        found += [s for s in detector.on_telemetry(sample) if isinstance(s, Finding)]
    return found


def test_one_glitched_reading_is_not_water_that_never_warmed() -> None:
    # A scaled heater warms the water slowly but surely; at 16 minutes one reading drops
    # back to the inlet temperature (seed 703 opened a stuck-probe order on exactly this).
    temps = [21.0 + 0.1 * i for i in range(120)]
    temps[96] = 20.5
    temps[3] = 80.0  # and one high reading while the heating starts
    assert _heating(_detector(), temps, power_w=1600.0) == []


def test_a_probe_that_stays_put_while_the_heater_draws_is_still_named() -> None:
    found = _heating(_detector(), [21.0] * 120, power_w=2100.0)
    assert [f.fault for f in found] == [Fault.SENSOR_FAULT]
    ramp = next(e for e in found[0].evidence if e.signal == "heat_ramp_k_per_min")
    assert ramp.observed == 0.0


def test_an_element_that_draws_nothing_is_named_the_heater() -> None:
    found = _heating(_detector(), [21.0] * 120, power_w=95.0)
    assert [f.fault for f in found] == [Fault.HEATER_FAILURE]


def test_an_open_element_shows_on_a_wool_wash_from_warm_tap_water_too() -> None:
    """Water 6 K below a 30 °C target that does not warm in 15 minutes: the element is open.

    A rule that wanted the water 8 K below its target let such a wash (and every quick
    wash) run to the appliance's own 80-minute heating timeout before any order.
    """
    found = _heating(_detector(), [24.0] * 120, power_w=95.0, target_c=30.0)
    assert [f.fault for f in found] == [Fault.HEATER_FAILURE]


def test_water_at_its_target_may_stay_put_while_the_heater_holds_it() -> None:
    assert _heating(_detector(), [29.5] * 120, power_w=2100.0, target_c=30.0) == []


def _heater_off(detector: HousecallDetector, temp: float, seq: int) -> list[Finding]:
    """One sample after the heating: the heater off, still in the heat phase."""
    sample = _sample(seq, temp, heater_on=False, target_c=20.0, power_w=90.0)
    return [s for s in detector.on_telemetry(sample) if isinstance(s, Finding)]


def test_a_short_heating_that_never_moved_the_probe_is_judged_when_it_ends() -> None:
    """A cool program from tap water heats for minutes; the probe barely moved through it.

    (Never flat for long enough to be named stuck while heating: 0.1 K a minute.)
    """
    detector = _detector()
    temps = [14.0 + 0.1 * (i // 6) for i in range(29)]  # 4 min 50 s, 14.0 -> 14.4 °C
    assert _heating(detector, temps, power_w=1900.0, target_c=20.0) == []
    found = _heater_off(detector, 14.0, 30)
    assert [f.fault for f in found] == [Fault.SENSOR_FAULT]


def test_a_probe_that_does_not_move_while_the_element_draws_is_named_within_two_minutes() -> None:
    """A summer wool wash heats tap water from 27 to 30 °C in two and a half minutes.

    The rise rules judge a heating after three minutes at the earliest; seed 1903's
    wm-000361 had its temperature probe stuck for ten days of such washes.
    """
    found = _heating(_detector(), [27.0] * 15, power_w=2100.0, target_c=30.0)
    assert [f.fault for f in found] == [Fault.SENSOR_FAULT]
    ramp = next(e for e in found[0].evidence if e.signal == "heat_ramp_k_per_min")
    assert ramp.observed == 0.0
    assert found[0].observed_at <= START + timedelta(minutes=2)


def test_one_glitch_neither_starts_nor_breaks_a_flat_stretch() -> None:
    temps = [27.0] * 15
    temps[6] = 52.0
    found = _heating(_detector(), temps, power_w=2100.0, target_c=30.0)
    assert [f.fault for f in found] == [Fault.SENSOR_FAULT]


def test_a_half_power_element_warming_slowly_reads_no_flat_probe() -> None:
    temps = [round(17.0 + 0.4 / 6 * i, 1) for i in range(60)]  # 0.4 K/min for ten minutes
    assert _heating(_detector(), temps, power_w=1100.0, target_c=40.0) == []


def test_a_short_healthy_heating_opens_nothing() -> None:
    detector = _detector()
    temps = [17.0 + 0.1 * i for i in range(31)]  # 17 -> 20 °C in five minutes, slowly
    assert _heating(detector, temps, power_w=1900.0, target_c=20.0) == []
    assert _heater_off(detector, 20.0, 32) == []


def test_a_heating_too_short_to_tell_is_not_judged() -> None:
    """Eighty seconds: a healthy element may not have moved the reading past its noise."""
    detector = _detector()
    assert _heating(detector, [18.0] * 8, power_w=1900.0, target_c=20.0) == []
    assert _heater_off(detector, 18.0, 9) == []


def test_a_flat_probe_in_an_open_element_is_the_heater() -> None:
    assert _heating(_detector(), [27.0] * 15, power_w=95.0, target_c=30.0) == []
