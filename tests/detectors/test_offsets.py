"""A unit's learned offsets follow it only on signals that look normal."""

from __future__ import annotations

from detectors.fleet import LAYOUTS, DetectorConfig, HousecallDetector
from detectors.state import DeviceState
from edge.contract import Kind


def test_a_signal_beyond_the_guard_keeps_its_offset_while_normal_ones_follow() -> None:
    tune = DetectorConfig().tuning[Kind.AC]
    layout = LAYOUTS[Kind.AC.value]
    b = layout.block
    n = layout.n_signals
    state = DeviceState.new("ac-1", "ac", "M", layout)
    v = state.v
    for i in range(n):
        v[b["offset_n"] + i] = tune.warm_windows
    v[b["z_slow"] + 0] = tune.offset_guard_z + 0.5  # drifting away: a fault developing
    v[b["z_slow"] + 1] = -(tune.offset_guard_z + 0.5)
    v[b["z_slow"] + 2] = 0.2  # normal noise
    residuals = [1.0] * n
    HousecallDetector._follow_offsets(v, b, n, residuals, tune)
    assert v[b["offset"] + 0] == 0.0
    assert v[b["offset"] + 1] == 0.0
    assert v[b["offset"] + 2] == tune.offset_alpha * 1.0


def test_offsets_still_warming_up_are_left_to_the_warm_up_average() -> None:
    tune = DetectorConfig().tuning[Kind.WASHER]
    layout = LAYOUTS[Kind.WASHER.value]
    b = layout.block
    n = layout.n_signals
    state = DeviceState.new("wm-1", "washer", "W", layout)
    HousecallDetector._follow_offsets(state.v, b, n, [2.0] * n, tune)
    assert all(state.v[b["offset"] + i] == 0.0 for i in range(n))
