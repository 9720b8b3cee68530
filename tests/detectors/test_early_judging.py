"""A unit still learning its offset is judged against how far units of its kind sit apart."""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import pairwise

from detectors.baseline import UnitSpread
from detectors.fleet import LAYOUTS, DetectorConfig, HousecallDetector
from detectors.signatures import FILL, WASHER_SIGNALS
from detectors.state import DeviceState
from edge.contract import Kind

X = {"c": 1.0, "load": 0.0}
HEALTHY = [math.log(60.0) if spec.log else 0.1 for spec in WASHER_SIGNALS]
#: Learned fill-time offsets of the units that warmed up before (log: +-10 % mains pressure).
PEER_OFFSETS = (0.08, -0.1, 0.12, -0.06, 0.1, -0.09, 0.07, -0.11)


def detector_with_peers(early_units: int) -> HousecallDetector:
    """A washer cohort that has learned, and peers whose warm-up of every signal has ended."""
    base = DetectorConfig()
    tuning = dict(base.tuning)
    tuning[Kind.WASHER] = replace(tuning[Kind.WASHER], early_units=early_units)
    detector = HousecallDetector(DetectorConfig(tuning=tuning))
    cohort = detector.cohort(Kind.WASHER, "M", "")
    tune = detector.config.tuning[Kind.WASHER]
    for k in range(tune.cohort_min + 5):
        cohort.offer(float(k), f"wm-{k}", X, X, [value + 0.001 * (k % 3) for value in HEALTHY])
    cohort.apply_pending()
    for i in range(len(WASHER_SIGNALS)):
        cohort.spread[i] = 0.02 if i == FILL else cohort.spread[i]
        for offset in PEER_OFFSETS:
            detector.unit_spreads[Kind.WASHER].note(i, offset * (1 if i == FILL else 0.01))
    return detector


def first_cycle_fill_z(detector: HousecallDetector, fill_ratio: float) -> float:
    """The smoothed fill-time z of a new unit's very first judged cycle."""
    state = DeviceState.new("wm-new", "washer", "M", LAYOUTS["washer"])
    detector.devices["wm-new"] = state
    y = list(HEALTHY)
    y[FILL] += math.log(fill_ratio)
    detector.judge.score_window(
        state=state, kind=Kind.WASHER, regime="", x=X, x_external=X, y=y, ts=1e6
    )
    b = LAYOUTS["washer"].block
    assert state.v[b["offset_n"] + FILL] == 1  # the cycle still teaches the unit's offset
    return state.v[b["z_fast"] + FILL]


def test_a_restricted_inlet_shows_on_a_new_units_first_cycle() -> None:
    """Twice the fill time is far beyond any peer's offset; a 10 % slower fill is not."""
    detector = detector_with_peers(early_units=8)
    restricted = first_cycle_fill_z(detector, 2.0)
    slow_mains = first_cycle_fill_z(detector_with_peers(early_units=8), 1.1)
    between = detector.unit_spreads[Kind.WASHER].scale(FILL)
    scale = detector.cohort(Kind.WASHER, "M", "").scale(FILL)
    assert math.isclose(restricted, math.log(2.0) / math.hypot(scale, between), rel_tol=0.03)
    assert restricted > 4.0
    assert abs(slow_mains) < 1.0


def test_without_enough_warmed_peers_a_new_unit_waits_for_its_warm_up() -> None:
    detector = detector_with_peers(early_units=len(PEER_OFFSETS) + 1)
    assert first_cycle_fill_z(detector, 2.0) == 0.0


def test_the_shrunk_offset_becomes_the_units_own_as_its_warm_up_fills() -> None:
    """A unit that really fills 15 % slower is judged less and less for it, cycle by cycle."""
    detector = detector_with_peers(early_units=8)
    state = DeviceState.new("wm-slow", "washer", "M", LAYOUTS["washer"])
    detector.devices["wm-slow"] = state
    b = LAYOUTS["washer"].block
    y = list(HEALTHY)
    y[FILL] += math.log(1.15)
    seen = []
    tune = detector.config.tuning[Kind.WASHER]
    for cycle in range(tune.warm_windows + 1):
        detector.judge.score_window(
            state=state, kind=Kind.WASHER, regime="", x=X, x_external=X, y=y, ts=1e6 + cycle * 9e4
        )
        seen.append(state.v[b["z_fast"] + FILL])
    assert all(later < earlier for earlier, later in pairwise(seen))
    assert abs(seen[-1]) < 0.05  # warmed up: judged against its own offset


def test_unit_spread_is_unknown_until_enough_units_have_warmed_up() -> None:
    spread = UnitSpread(n_signals=1, min_units=2)
    spread.note(0, 0.5)
    assert math.isnan(spread.scale(0))
    spread.note(0, -0.3)
    assert spread.scale(0) == 1.25 * 0.4
