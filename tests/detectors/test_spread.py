"""A cohort's residual spread is learned from healthy-looking units only."""

from __future__ import annotations

import math

from detectors.fleet import LAYOUTS, HousecallDetector
from detectors.signatures import WASHER_SIGNALS
from detectors.state import DeviceState
from edge.contract import Kind

X = {"c": 1.0, "load": 0.0}
HEALTHY = [math.log(0.6) if spec.log else 0.1 for spec in WASHER_SIGNALS]


def _warmed_unit(detector: HousecallDetector, device_id: str) -> DeviceState:
    """A washer past its warm-up, judged against a cohort that has learned."""
    tune = detector.config.tuning[Kind.WASHER]
    cohort = detector.cohort(Kind.WASHER, "M", "")
    if not cohort.samples[0]:
        for k in range(tune.cohort_min + 5):
            cohort.offer(float(k), f"wm-{k}", X, X, [v + 0.001 * (k % 3) for v in HEALTHY])
        cohort.apply_pending()
    state = DeviceState.new(device_id, "washer", "M", LAYOUTS["washer"])
    detector.devices[device_id] = state
    b = LAYOUTS["washer"].block
    for i in range(LAYOUTS["washer"].n_signals):
        state.v[b["offset_n"] + i] = tune.warm_windows
    return state


def _judge(detector: HousecallDetector, state: DeviceState, y: list[float], ts: float) -> None:
    detector.judge.score_window(
        state=state, kind=Kind.WASHER, regime="", x=X, x_external=X, y=y, ts=ts
    )


def test_a_unit_under_suspicion_does_not_widen_the_scale_it_is_judged_by() -> None:
    detector = HousecallDetector()
    cohort = detector.cohort(Kind.WASHER, "M", "")
    faulty = _warmed_unit(detector, "wm-faulty")
    before = list(cohort.spread)
    slow_drain = list(HEALTHY)
    slow_drain[1] += 0.8  # drain time up by more than half: a clogging pump
    for cycle in range(6):
        _judge(detector, faulty, slow_drain, 1e6 + 9e4 * cycle)
    b = LAYOUTS["washer"].block
    assert faulty.v[b["z_slow"] + 1] > 5.0  # the fault shows ...
    assert cohort.spread[1] == before[1]  # ... and the cohort's yardstick stays put

    healthy = _warmed_unit(detector, "wm-healthy")
    noisy = list(HEALTHY)
    noisy[1] += 0.02
    _judge(detector, healthy, noisy, 2e6)
    assert cohort.spread[1] != before[1]  # a healthy unit's residual does teach it
