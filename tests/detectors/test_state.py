from __future__ import annotations

import pytest

from detectors.fleet import LAYOUTS
from detectors.state import DeviceState


def test_state_round_trips_byte_for_byte_including_nan_slots() -> None:
    state = DeviceState.new("ac-000001", "ac", "AUR-S35-INV", LAYOUTS["ac"])
    state.regime = "cool"
    state.v[0] = 1_780_000_000.5
    state.v[7] = -3.25
    data = state.to_bytes()
    again = DeviceState.from_bytes(data, LAYOUTS)
    assert again.to_bytes() == data
    assert (again.device_id, again.kind, again.model, again.regime) == (
        "ac-000001",
        "ac",
        "AUR-S35-INV",
        "cool",
    )


def test_a_state_of_another_layout_is_refused() -> None:
    state = DeviceState.new("wm-1", "washer", "W", LAYOUTS["washer"])
    data = bytearray(state.to_bytes())
    with pytest.raises(ValueError, match="layout"):
        DeviceState.from_bytes(bytes(data[:-8]), LAYOUTS)
    data[0] = 99
    with pytest.raises(ValueError, match="version"):
        DeviceState.from_bytes(bytes(data), LAYOUTS)


def test_state_stays_far_below_the_8_kib_budget() -> None:
    for kind, layout in LAYOUTS.items():
        size = len(DeviceState.new("x" * 64, kind, "M" * 128, layout).to_bytes())
        assert size < 4096, (kind, size)
