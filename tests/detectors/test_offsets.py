"""A unit's learned offsets follow it only on signals that look normal."""

from __future__ import annotations

from array import array

from detectors.fleet import LAYOUTS, DetectorConfig, HousecallDetector, KindTuning
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
    HousecallDetector._follow_offsets(v, b, n, residuals, tune)
    assert v[b["offset"] + 0] == 0.0
    assert v[b["offset"] + 1] == 0.0
    assert v[b["offset"] + 2] == tune.offset_alpha * 1.0


def test_offsets_still_warming_up_are_left_to_the_warm_up_average() -> None:
    tune, v, b, n = fresh(Kind.WASHER)
    HousecallDetector._follow_offsets(v, b, n, [2.0] * n, tune)
    assert all(v[b["offset"] + i] == 0.0 for i in range(n))
