"""A cohort judges units only once it has learned from enough units, not just windows."""

from __future__ import annotations

from detectors.fleet import LAYOUTS, HousecallDetector
from detectors.signatures import AC_SIGNALS
from detectors.state import DeviceState
from edge.contract import Kind

X = {"c": 1.0, "to": 0.5, "tr": 0.0, "hz": 0.0, "hz_to": 0.0, "hz2": 0.0, "ld": 0.3}
X_EXTERNAL = {"c": 1.0, "to": 0.5, "tr": 0.0, "ld": 0.3, "to2": 0.25}
HEALTHY = [1.0] * len(AC_SIGNALS)


def _judged_after_teachers(teachers: int) -> int:
    """Windows of a warmed-up unit judged against a heating cohort taught by ``teachers``."""
    detector = HousecallDetector()
    tune = detector.config.tuning[Kind.AC]
    cohort = detector.cohort(Kind.AC, "M", "heat")
    for k in range(3 * tune.cohort_min):  # windows aplenty, from only so many units
        y = [value + 0.01 * (k % 5) for value in HEALTHY]
        cohort.offer(float(k), f"ac-teacher-{k % teachers}", X, X_EXTERNAL, y)
    cohort.apply_pending()
    state = DeviceState.new("ac-1", "ac", "M", LAYOUTS["ac"])
    detector.devices["ac-1"] = state
    b = LAYOUTS["ac"].block
    for i in range(len(AC_SIGNALS)):
        state.v[b["offset_n"] + i] = tune.warm_windows  # its own offsets learned (cooling)
    judged: list[float] = []
    detector.trace = lambda device_id, ts, z, names: judged.append(ts)
    for k in range(5):
        detector.judge.score_window(
            state=state, kind=Kind.AC, regime="heat", x=X, x_external=X_EXTERNAL,
            y=HEALTHY, ts=1e6 + 900.0 * k,
        )  # fmt: skip
    return len(judged)


def test_a_cohort_learned_from_four_units_judges_no_one() -> None:
    """Seed 2002: a heating cohort of 811 windows from 4 units; two healthy units ordered."""
    assert _judged_after_teachers(4) == 0


def test_a_cohort_learned_from_enough_units_judges() -> None:
    detector = HousecallDetector()
    assert _judged_after_teachers(detector.config.tuning[Kind.AC].cohort_units) == 5
