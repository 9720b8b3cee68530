"""A unit's learned offsets follow it only on signals that look normal."""

from __future__ import annotations

from array import array

from detectors.fleet import LAYOUTS, DetectorConfig, HousecallDetector
from detectors.judging import Judge, KindTuning
from detectors.state import DeviceState
from edge.contract import Kind


def fresh(kind: Kind) -> tuple[KindTuning, array[float], dict[str, int], int]:
    """A new unit's state of ``kind``: its tuning, numbers, block offsets, signal count."""
    layout = LAYOUTS[kind.value]
    state = DeviceState.new(f"{kind.value}-1", kind.value, "M", layout)
    return DetectorConfig().tuning[kind], state.v, layout.block, layout.n_signals


def test_a_signal_beyond_the_guard_keeps_its_offset_while_normal_ones_follow() -> None:
    tune, v, b, n = fresh(Kind.AC)
    for i in range(n):
        v[b["offset_n"] + i] = tune.warm_windows
    v[b["z_slow"] + 0] = tune.offset_guard_z + 0.5  # drifting away: a fault developing
    v[b["z_slow"] + 1] = -(tune.offset_guard_z + 0.5)
    v[b["z_slow"] + 2] = 0.2  # normal noise
    residuals = [1.0] * n
    Judge.follow_offsets(v, LAYOUTS["ac"].at, n, residuals, tune)
    assert v[b["offset"] + 0] == 0.0
    assert v[b["offset"] + 1] == 0.0
    assert v[b["offset"] + 2] == tune.offset_alpha * 1.0


def test_offsets_still_warming_up_are_left_to_the_warm_up_average() -> None:
    tune, v, b, n = fresh(Kind.WASHER)
    Judge.follow_offsets(v, LAYOUTS["washer"].at, n, [2.0] * n, tune)
    assert all(v[b["offset"] + i] == 0.0 for i in range(n))


def test_a_floored_reading_is_judged_but_teaches_neither_the_offset_nor_the_cohort() -> None:
    import math

    from detectors.signatures import LOG_FLOOR, RAMP, WASHER_SIGNALS

    detector = HousecallDetector()
    x = {"c": 1.0, "load": 0.0}
    healthy = [math.log(0.6) if spec.log else 0.1 for spec in WASHER_SIGNALS]
    cohort = detector.cohort(Kind.WASHER, "M", "")
    tune = detector.config.tuning[Kind.WASHER]
    for k in range(tune.cohort_min + 5):
        cohort.offer(float(k), f"wm-{k}", x, x, [value + 0.001 * (k % 3) for value in healthy])
    cohort.apply_pending()
    state = DeviceState.new("wm-1", "washer", "M", LAYOUTS["washer"])
    detector.devices["wm-1"] = state
    b = LAYOUTS["washer"].block
    no_heat = list(healthy)
    no_heat[RAMP] = LOG_FLOOR  # the heater ran, the probe saw no rise (a glitch, a cut)
    detector.judge.score_window(
        state=state, kind=Kind.WASHER, regime="", x=x, x_external=x, y=no_heat, ts=1e6
    )
    assert state.v[b["offset_n"] + RAMP] == 0  # not averaged into the unit's offset
    assert state.v[b["offset_n"] + 0] == 1  # the other signals were
    taught = cohort.pending[-1][4]
    assert math.isnan(taught[RAMP])
    assert taught[0] == healthy[0]
    detector.judge.score_window(
        state=state, kind=Kind.WASHER, regime="", x=x, x_external=x, y=healthy, ts=1e6 + 9e4
    )
    assert state.v[b["offset_n"] + RAMP] == 1


def _young_cohort_after_two_units(teach_without_offset: bool) -> float:
    """How far the cohort's fill expectation for one program sits from another's, after
    two healthy units that sit apart (mains pressure) each used only one of them."""
    import math
    from dataclasses import replace

    from detectors.signatures import FILL, WASHER_SIGNALS

    base = DetectorConfig()
    tuning = dict(base.tuning)
    tuning[Kind.WASHER] = replace(tuning[Kind.WASHER], teach_without_offset=teach_without_offset)
    detector = HousecallDetector(DetectorConfig(tuning=tuning))
    tune = tuning[Kind.WASHER]
    healthy = [math.log(4.0) if spec.log else 0.1 for spec in WASHER_SIGNALS]
    quick = {"c": 1.0, "program_quick": 1.0}
    cotton = {"c": 1.0, "program_cotton": 1.0}
    cohort = detector.cohort(Kind.WASHER, "M", "")
    for k in range(tune.cohort_min):
        cohort.offer(float(k), f"wm-{k}", quick if k % 2 else cotton, {}, healthy)
    cohort.apply_pending()
    b = LAYOUTS["washer"].block
    units = []
    for name, offset, x in (("wm-a", 0.15, quick), ("wm-b", -0.15, cotton)):
        state = DeviceState.new(name, "washer", "M", LAYOUTS["washer"])
        detector.devices[name] = state
        for i in range(len(WASHER_SIGNALS)):
            state.v[b["offset_n"] + i] = tune.warm_windows
        state.v[b["offset"] + FILL] = offset
        units.append((state, offset, x))
    for cycle in range(60):
        for state, offset, x in units:
            y = list(healthy)
            y[FILL] += offset
            detector.judge.score_window(
                state=state,
                kind=Kind.WASHER,
                regime="",
                x=x,
                x_external=x,
                y=y,
                ts=1e6 + 86400.0 * cycle,
            )
        cohort.apply_pending()
    return abs(cohort.predict(quick, {})[FILL] - cohort.predict(cotton, {})[FILL])


def test_a_warmed_unit_teaches_its_cohort_without_its_own_offset() -> None:
    # Fed raw readings, the cohort credits the programs with the units' offsets (0.3
    # apart) and every unit of either program would then read that far off.
    assert _young_cohort_after_two_units(teach_without_offset=False) > 0.15
    assert _young_cohort_after_two_units(teach_without_offset=True) < 0.02
