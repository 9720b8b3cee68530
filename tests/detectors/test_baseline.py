"""Cohort baselines: a level-only signal is not credited to the conditions its units saw."""

from __future__ import annotations

from detectors.baseline import CohortBaseline


def _teach(cohort: CohortBaseline) -> None:
    """Two healthy units, 20% apart (their mains pressures), in a cold and a warm region.

    Nothing but the unit sets the signal; the inlet temperature only says which unit it is.
    """
    for day in range(60):
        for unit, level, inlet in (("a", 1.0, -0.5), ("b", 1.2, 0.5)):
            x = {"c": 1.0, "inlet": inlet}
            cohort.offer(float(day), unit, x, x, [level, level])
    cohort.apply_pending()


def test_a_level_only_signal_ignores_the_conditions_a_regression_credits() -> None:
    cohort = CohortBaseline(floors=(0.01, 0.01), level_only=frozenset({1}))
    _teach(cohort)
    cold, summer = {"c": 1.0, "inlet": -0.5}, {"c": 1.0, "inlet": -0.1}
    regressed_cold, level_cold = cohort.predict(cold, cold)
    regressed_summer, level_summer = cohort.predict(summer, summer)
    # The regression took the inlet for the units' difference: unit a's inlet water warming
    # by 4 K moves its expectation by 8%, though unit a itself reads as it always did.
    assert regressed_summer - regressed_cold > 0.07
    # The level is the cohort's, whatever the conditions: unit a's offset stays valid.
    assert level_summer == level_cold
    assert abs(level_cold - 1.1) < 0.01
