"""The univariate streaming detectors: what they must report, what they must not, and that
they are genuinely online (a value's score never depends on the values after it)."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from detectors.streaming import RobustResidualScorer
from detectors.streaming_knn import (
    ConformalKnn,
    MultiScaleKnnDetector,
    refractory_alarms,
)


def noise(n: int, seed: int, sd: float = 1.0, level: float = 10.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(v) for v in level + sd * rng.standard_normal(n)]


def run(detector: MultiScaleKnnDetector, values: list[float]) -> tuple[list[float], list[float]]:
    alarms, surprises = [], []
    for x in values:
        alarms.append(detector.score_one(x))
        surprises.append(detector.last_surprise)
    return alarms, surprises


def first_alarm_after(alarms: list[float], start: int) -> int | None:
    return next((i - start for i in range(start, len(alarms)) if alarms[i] > 0), None)


def test_a_spike_in_a_noisy_daily_cycle_is_reported_at_once() -> None:
    rng = np.random.default_rng(1)
    values = [
        10 + 3 * math.sin(2 * math.pi * i / 96) + 0.2 * float(rng.standard_normal())
        for i in range(3000)
    ]
    values[2500] += 4.0
    alarms, _ = run(MultiScaleKnnDetector(), values)
    assert first_alarm_after(alarms, 2500) == 0


def test_a_step_change_in_noise_is_reported_within_ten_values() -> None:
    values = noise(3000, seed=2) + noise(300, seed=3, sd=5.0)
    alarms, surprises = run(MultiScaleKnnDetector(), values)
    assert max(surprises[3000:3010]) >= 2.0
    # Here a false alarm at 2996 (p <= 0.01 happens) holds the next one back for the
    # refractory period: the change is reported as soon as it ends.
    delay = first_alarm_after(alarms, 3000)
    assert delay is not None
    assert delay <= 100 + 10
    alarms, _ = run(MultiScaleKnnDetector(refractory=0), values)
    assert first_alarm_after(alarms, 3000) == first_alarm_after(
        [1.0 if s >= 2.0 else 0.0 for s in surprises], 3000
    )


def test_a_level_shift_smaller_than_the_noise_range_is_reported_within_fifty_values() -> None:
    values = noise(3000, seed=4) + noise(300, seed=5, level=11.5)
    alarms, _ = run(MultiScaleKnnDetector(), values)
    delay = first_alarm_after(alarms, 3000)
    assert delay is not None
    assert delay <= 50


def test_a_clean_periodic_signal_raises_nothing_over_six_thousand_values() -> None:
    # Distances between repeating windows are round-off, not evidence: no alarm at all.
    values = [5.0 + math.sin(2 * math.pi * i / 50) for i in range(6000)]
    alarms, surprises = run(MultiScaleKnnDetector(), values)
    assert sum(a > 0 for a in alarms) == 0
    assert max(surprises) < 2.0  # p > 0.01 throughout


def test_a_flat_line_raises_nothing_and_its_first_change_is_reported() -> None:
    values = [3.0] * 2000 + [3.5] * 10
    alarms, _ = run(MultiScaleKnnDetector(), values)
    assert sum(a > 0 for a in alarms[:2000]) == 0
    assert first_alarm_after(alarms, 2000) == 0


def test_on_white_noise_false_alarms_stay_at_the_conformal_rate() -> None:
    # p <= 0.01 on either of two scales: at most ~2% of values, and the refractory period
    # leaves at most one alarm per 101 values.
    values = noise(20_000, seed=6)
    alarms, surprises = run(MultiScaleKnnDetector(), values)
    assert np.mean(np.array(surprises) >= 2.0) < 0.025
    assert sum(a > 0 for a in alarms) <= 20_000 / 101


def test_one_long_anomaly_is_one_alarm_per_refractory_period() -> None:
    values = noise(3000, seed=7) + noise(1000, seed=8, sd=0.05, level=30.0)
    alarms, _ = run(MultiScaleKnnDetector(refractory=100), values)
    fired = [i for i, a in enumerate(alarms) if a > 0]
    assert all(b - a > 100 for a, b in pairwise(fired))
    assert any(3000 <= i <= 3005 for i in fired)


def test_scores_never_depend_on_future_values() -> None:
    prefix = noise(2500, seed=9)
    calm, _ = run(MultiScaleKnnDetector(), [*prefix, *noise(500, seed=10)])
    wild, _ = run(MultiScaleKnnDetector(), [*prefix, *noise(500, seed=11, sd=50.0)])
    assert calm[:2500] == wild[:2500]
    assert calm[2500:] != wild[2500:]


def test_surprise_does_not_depend_on_the_series_scale() -> None:
    values = noise(2500, seed=12)
    base = ConformalKnn()
    scaled = ConformalKnn()
    # A power-of-two factor is exact in floating point: ranks, hence surprises, are equal.
    assert [base.surprise_one(x) for x in values] == [scaled.surprise_one(8.0 * x) for x in values]


def test_a_threshold_sweep_from_surprises_gives_the_streaming_alarms() -> None:
    values = noise(3000, seed=13) + noise(500, seed=14, sd=3.0)
    for threshold in (1.5, 2.0, 2.5):
        alarms, surprises = run(MultiScaleKnnDetector(threshold=threshold), values)
        swept = refractory_alarms(np.array(surprises), threshold, 100)
        assert swept.tolist() == alarms


def test_memory_is_bounded() -> None:
    scale = ConformalKnn(memory=300, calibration=500)
    for x in noise(5000, seed=15):
        scale.surprise_one(x)
    assert scale.ref.shape == (300, scale.dim)
    assert scale.cal.shape == (500,)
    assert len(scale.pending) * scale.stride <= scale.span
    assert len(scale.recent) == scale.span


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="k <= memory"):
        ConformalKnn(k=20, memory=10)
    with pytest.raises(ValueError, match=">= 1"):
        ConformalKnn(block=0)


def test_robust_residual_scorer_reports_a_spike_and_stays_quiet_on_noise() -> None:
    scorer = RobustResidualScorer()
    quiet = [scorer.score_one(x) for x in noise(3000, seed=16, sd=0.1)]
    assert max(quiet[500:]) < 4.0
    assert scorer.score_one(20.0) >= 4.0
