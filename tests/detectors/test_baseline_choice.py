"""Which cohort a unit is judged against: its model's, or the pooled one of its kind."""

from __future__ import annotations

from detectors.baseline import CohortBaseline
from detectors.fleet import HousecallDetector
from detectors.judging import POOLED, KindTuning
from edge.contract import Kind
from tests.detectors.fleet_helpers import birth

DAY = 86400.0


def teach(cohort: CohortBaseline, windows: int, units: int = 8) -> None:
    """Give a cohort ``windows`` healthy windows from ``units`` units (numbers do not matter)."""
    for i in range(windows):
        y = [1.0] * len(cohort.floors)
        cohort.offer(float(i), f"teacher-{i % units}", {"c": 1.0}, {"c": 1.0}, y)
    cohort.apply_pending()


def unit(detector: HousecallDetector, model: str) -> str:
    born = birth(f"ac-{model.lower()}", "ac", model=model, brand="Aurora")
    detector.on_birth(born)
    return born.device_id


def choose(detector: HousecallDetector, device_id: str, ts: float) -> CohortBaseline:
    tune: KindTuning = detector.config.tuning[Kind.AC]
    cohort, teaches = detector.judge.baseline(
        detector.devices[device_id], Kind.AC, "cool", tune, ts
    )
    assert len(teaches) == 2  # healthy windows teach the model's cohort and the pooled one
    return cohort


def test_a_unit_of_a_well_known_model_is_judged_against_its_model_for_good() -> None:
    detector = HousecallDetector()
    device_id = unit(detector, "KS-50V")
    own = detector.cohort(Kind.AC, "KS-50V", "cool")
    teach(own, detector.config.tuning[Kind.AC].cohort_min)
    teach(detector.cohort(Kind.AC, POOLED, "cool"), 5000)
    assert choose(detector, device_id, 0.0) is own
    assert choose(detector, device_id, 30 * DAY) is own


def test_a_unit_of_a_rare_model_waits_then_takes_the_pooled_cohort_and_keeps_it() -> None:
    detector = HousecallDetector()
    device_id = unit(detector, "PX-12HR")
    own = detector.cohort(Kind.AC, "PX-12HR", "cool")
    pooled = detector.cohort(Kind.AC, POOLED, "cool")
    wait = detector.config.tuning[Kind.AC].pooled_after_s
    teach(pooled, 5000)
    assert choose(detector, device_id, 0.0) is own  # waiting (own not learned: not judged)
    assert detector.devices[device_id].baseline == 0.0
    assert choose(detector, device_id, wait - 60.0) is own
    assert choose(detector, device_id, wait) is pooled
    # The model's cohort learning later does not move a unit whose offsets were learned
    # against the pooled one.
    teach(own, 5000)
    assert choose(detector, device_id, wait + 30 * DAY) is pooled


def test_the_pooled_cohort_must_have_learned_before_anyone_is_judged_against_it() -> None:
    detector = HousecallDetector()
    device_id = unit(detector, "PX-12HR")
    own = detector.cohort(Kind.AC, "PX-12HR", "cool")
    wait = detector.config.tuning[Kind.AC].pooled_after_s
    assert choose(detector, device_id, 0.0) is own
    assert choose(detector, device_id, 2 * wait) is own


def test_a_model_cohort_learned_from_a_handful_of_units_is_no_cohort_yet() -> None:
    """Windows aplenty from three units: the pooled cohort judges the unit after the wait."""
    detector = HousecallDetector()
    device_id = unit(detector, "PX-12HR")
    own = detector.cohort(Kind.AC, "PX-12HR", "cool")
    pooled = detector.cohort(Kind.AC, POOLED, "cool")
    teach(own, 5000, units=3)
    teach(pooled, 5000)
    assert choose(detector, device_id, 0.0) is own
    assert detector.devices[device_id].baseline == 0.0  # waiting, not judged
    wait = detector.config.tuning[Kind.AC].pooled_after_s
    assert choose(detector, device_id, wait) is pooled
