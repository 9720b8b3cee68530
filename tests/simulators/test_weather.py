"""Weather: seasons by hemisphere, afternoons warmer than nights, heat waves on top."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from simulators.refrigerant import saturation_c, saturation_kpa
from simulators.weather import RegionalWeather, mains_water_c

JULY = datetime(2026, 7, 1, tzinfo=UTC)
REGIONS = ["ES-AN", "AU-NSW", "IN-MH"]


def test_july_is_summer_north_and_winter_south() -> None:
    w = RegionalWeather.build(REGIONS, JULY, days=20, seed=3, heat_waves=False)
    idx = np.arange(3)
    means = np.mean([w.outdoor_c(idx, w.start_s + h * 3600.0) for h in range(24, 24 * 20)], axis=0)
    assert means[0] > means[1] + 8.0
    assert 20.0 < means[0] < 32.0
    assert 8.0 < means[1] < 18.0


def test_afternoons_are_warmer_than_nights_in_local_time() -> None:
    w = RegionalWeather.build(["ES-AN"], JULY, days=10, seed=4, heat_waves=False)
    idx = np.array([0])
    afternoons, nights = [], []
    for day in range(2, 9):
        base = w.start_s + 86400.0 * day
        afternoons.append(float(w.outdoor_c(idx, base + 14 * 3600.0)[0]))  # 15:00 CET
        nights.append(float(w.outdoor_c(idx, base + 3 * 3600.0)[0]))  # 04:00 CET
    assert np.mean(afternoons) > np.mean(nights) + 6.0
    assert max(float(w.sunshine(idx, w.start_s + 86400 * 3 + 3 * 3600.0)[0]), 0.0) == 0.0


def test_heat_waves_add_heat_to_the_same_weather() -> None:
    calm = RegionalWeather.build(REGIONS, JULY, days=60, seed=5, heat_waves=False, cold_snaps=False)
    hot = RegionalWeather.build(REGIONS, JULY, days=60, seed=5)
    waves = [e for e in hot.events if e.delta_c > 0]
    assert waves
    wave = waves[0]
    region = REGIONS.index(wave.region)
    mid = (wave.start_s + wave.end_s) / 2
    idx = np.array([region])
    lift = float(hot.outdoor_c(idx, mid)[0] - calm.outdoor_c(idx, mid)[0])
    assert lift > 3.0


def test_mains_water_is_colder_in_winter() -> None:
    summer = mains_water_c("DE-BY", datetime(2026, 8, 15, tzinfo=UTC).timestamp())
    winter = mains_water_c("DE-BY", datetime(2026, 2, 15, tzinfo=UTC).timestamp())
    assert summer > winter + 6.0


def test_saturation_curves_invert_and_rank() -> None:
    t = np.linspace(-20.0, 65.0, 30)
    for refrigerant in ("R32", "R410A"):
        assert np.allclose(saturation_c(saturation_kpa(t, refrigerant), refrigerant), t, atol=1e-6)
    assert np.all(saturation_kpa(t, "R32") > saturation_kpa(t, "R410A"))
