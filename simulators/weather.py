"""Outdoor weather per region: seasons, days, weather systems, heat waves and cold snaps.

Weather is the biggest confounder a detector faces (condensing temperature follows
the outdoor temperature far more than it follows a fouling coil), so every device
of a region shares the same weather, and a faulty unit and its healthy twin see
identical weather. The series is built once per run on an hourly grid and read by
linear interpolation, which keeps the per-sample cost to one ``np.interp``-like
gather for the whole fleet.

>>> from datetime import UTC, datetime
>>> w = RegionalWeather.build(["CN-32"], datetime(2026, 7, 1, tzinfo=UTC), days=2, seed=1)
>>> t = w.start_s + 3600 * 7.0  # 15:00 local in Nanjing
>>> 20.0 < float(w.outdoor_c(np.array([0]), t)[0]) < 45.0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from simulators.catalog import REGIONS

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_NORTH_PEAK_DAY = 201.0  # warmest day of the year (about 20 July)
_HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class WeatherEvent:
    """A heat wave (positive ``delta_c``) or cold snap (negative) in one region."""

    region: str
    start_s: float
    end_s: float
    delta_c: float


@dataclass
class RegionalWeather:
    """Hourly outdoor temperature and sunshine for each region of a run."""

    regions: list[str]
    start_s: float
    temp_c: FloatArray  # (regions, hours)
    sun: FloatArray  # (regions, hours), 0..1 solar gain factor
    events: list[WeatherEvent] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        regions: list[str],
        start: datetime,
        days: float,
        seed: int,
        *,
        heat_waves: bool = True,
        cold_snaps: bool = True,
    ) -> RegionalWeather:
        """Hourly weather from one day before ``start`` to two days after the end."""
        start_s = start.timestamp() - 86400.0
        hours = math.ceil((days + 3.0) * 24.0) + 1
        t_h = np.arange(hours, dtype=np.float64)
        temp = np.empty((len(regions), hours))
        sun = np.empty((len(regions), hours))
        events: list[WeatherEvent] = []
        for i, code in enumerate(regions):
            region = REGIONS[code]
            rng = np.random.default_rng([seed, 7001, i])
            utc_s = start_s + t_h * _HOUR_S
            local_h = (utc_s / _HOUR_S + region.utc_offset_h) % 24.0
            doy = (utc_s / 86400.0 + 4.0) % 365.25  # epoch day 0 is 1 January
            peak = _NORTH_PEAK_DAY + (182.6 if region.southern else 0.0)
            seasonal = region.annual_mean_c + region.annual_swing_c * np.cos(
                2 * np.pi * (doy - peak) / 365.25
            )
            # Weather systems: a daily AR(1) anomaly, smoothed onto the hourly grid.
            n_days = hours // 24 + 2
            anomaly = np.zeros(n_days)
            cloud = np.zeros(n_days)
            for d in range(1, n_days):
                anomaly[d] = 0.72 * anomaly[d - 1] + rng.normal(0.0, 1.6)
                cloud[d] = float(np.clip(0.5 * cloud[d - 1] + rng.normal(0.25, 0.25), 0.0, 0.9))
            day_idx = t_h / 24.0
            anomaly_h = np.interp(day_idx, np.arange(n_days), anomaly)
            cloud_h = np.interp(day_idx, np.arange(n_days), cloud)
            diurnal = 0.5 * region.daily_swing_c * (1.0 - 0.5 * cloud_h)
            shape = np.cos(2 * np.pi * (local_h - 15.0) / 24.0) + 0.2 * np.cos(
                4 * np.pi * (local_h - 15.0) / 24.0
            )
            series = seasonal + anomaly_h + diurnal * shape
            # Heat waves in the warm half, cold snaps in the cold half: a few per month.
            season_sign = np.cos(2 * np.pi * (doy - peak) / 365.25)
            n_candidates = rng.poisson(max(1.0, days / 30.0 * 1.3))
            for _ in range(n_candidates):
                at_h = float(rng.uniform(0, hours))
                length_h = float(rng.uniform(3.0, 7.0) * 24.0)
                warm = season_sign[min(hours - 1, int(at_h))] > 0.0
                if (warm and not heat_waves) or (not warm and not cold_snaps):
                    continue
                delta = float(rng.uniform(4.0, 8.0)) * (1.0 if warm else -1.0)
                bump = np.clip((t_h - at_h) / length_h, 0.0, 1.0)
                series = series + delta * np.sin(np.pi * bump) ** 2 * (bump > 0) * (bump < 1)
                events.append(
                    WeatherEvent(
                        code,
                        start_s + at_h * _HOUR_S,
                        start_s + (at_h + length_h) * _HOUR_S,
                        delta,
                    )
                )
            temp[i] = series
            elevation = np.clip(np.cos(2 * np.pi * (local_h - 13.0) / 24.0) * 1.4 - 0.4, 0.0, 1.0)
            summer = 0.75 + 0.25 * season_sign
            sun[i] = elevation * (1.0 - 0.75 * cloud_h) * summer
        return cls(regions, start_s, temp, sun, events)

    def _gather(self, table: FloatArray, region_idx: IntArray, t_s: float) -> FloatArray:
        pos = (t_s - self.start_s) / _HOUR_S
        lo = int(pos)
        lo = min(max(lo, 0), table.shape[1] - 2)
        frac = min(max(pos - lo, 0.0), 1.0)
        column = table[:, lo] * (1.0 - frac) + table[:, lo + 1] * frac
        out: FloatArray = column[region_idx]
        return out

    def outdoor_c(self, region_idx: IntArray, t_s: float) -> FloatArray:
        """Outdoor temperature at UTC epoch seconds ``t_s`` for each device's region."""
        return self._gather(self.temp_c, region_idx, t_s)

    def sunshine(self, region_idx: IntArray, t_s: float) -> FloatArray:
        """Solar gain factor 0..1 at ``t_s`` for each device's region."""
        return self._gather(self.sun, region_idx, t_s)

    def daily_mean_c(self, region_idx: IntArray, t_s: float) -> FloatArray:
        """Mean of the past 24 hours, which is what people choose cooling or heating by."""
        pos = int((t_s - self.start_s) / _HOUR_S)
        lo = max(0, pos - 24)
        hi = max(lo + 1, min(pos, self.temp_c.shape[1]))
        means = self.temp_c[:, lo:hi].mean(axis=1)
        out: FloatArray = means[region_idx]
        return out


def mains_water_c(region_code: str, t_s: float) -> float:
    """Cold-water inlet temperature: follows the season with a lag of about a month."""
    region = REGIONS[region_code]
    doy = (t_s / 86400.0 + 4.0) % 365.25
    peak = _NORTH_PEAK_DAY + 30.0 + (182.6 if region.southern else 0.0)
    return region.mains_water_mean_c + region.mains_water_swing_c * math.cos(
        2 * math.pi * (doy - peak) / 365.25
    )
