"""Line protocol: numeric fields only, escaped tags, millisecond device time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from gateway.timeseries.lineproto import (
    escape_tag,
    event_line,
    marker_line,
    reading_values,
    telemetry_line,
)

TS = datetime(2026, 7, 14, 13, 5, tzinfo=UTC)


def test_tags_with_spaces_commas_and_equals_are_escaped() -> None:
    assert escape_tag("A B,C=D") == "A\\ B\\,C\\=D"
    assert escape_tag("") == "unknown"


def test_telemetry_line_has_device_kind_model_tags_and_numbers_only() -> None:
    line = telemetry_line(
        "ac-1", 3, TS, {"setpoint_c": 24.0, "bad": math.nan}, kind="ac", model="AUR-S35"
    )
    assert line == (
        "telemetry,device=ac-1,kind=ac,model=AUR-S35 seq=3.0,setpoint_c=24.0 "
        f"{int(TS.timestamp() * 1000)}"
    )


def test_unknown_kind_and_model_still_give_a_valid_line() -> None:
    line = event_line("wm-1", 9, TS, {"duration_s": 5820.0}, kind=None, model=None, event_type="x")
    assert line.startswith("event,device=wm-1,kind=unknown,model=unknown,type=x seq=9.0,")


def test_marker_line_names_the_gateway_and_batch() -> None:
    assert marker_line("housecall_spool", "gw-1", 42, 1000) == (
        "housecall_spool,gateway=gw-1 batch=42.0 1000"
    )


def test_a_line_from_the_readings_model_holds_exactly_its_numbers() -> None:
    """The pipeline's path (``reading_values``) writes what ``numeric()`` says, no more."""
    from edge.contract import Telemetry
    from tests.gateway.helpers import telemetry

    for message in (
        telemetry("ac-1", 1, x_vibration_kurtosis=3.5, outdoor_temp_c=None, mode="cool"),
        telemetry("wm-1", 2, phase="spin", heater_on=True, door_locked=False, drum_rpm=1200),
    ):
        readings = Telemetry.model_validate_json(message[1]).readings
        fast = telemetry_line("d", 5, TS, reading_values(readings), kind="ac", model="m")
        plain = telemetry_line("d", 5, TS, readings.numeric(), kind="ac", model="m")
        assert fast == plain
        assert "mode=" not in fast
        assert "phase=" not in fast
    mixed = telemetry_line("d", 1, TS, {"n": 1, "inf": math.inf}, kind=None, model=None)
    assert mixed.split(" ")[1] == "seq=1.0,n=1.0"
