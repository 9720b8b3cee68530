"""Line protocol: numeric fields only, escaped tags, millisecond device time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from gateway.timeseries.lineproto import (
    escape_tag,
    event_line,
    marker_line,
    reading_numbers,
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


def test_reading_numbers_matches_the_contract_models_numeric() -> None:
    from edge.contract import Telemetry
    from tests.gateway.helpers import telemetry

    for message in (
        telemetry("ac-1", 1, x_vibration_kurtosis=3.5, outdoor_temp_c=None),
        telemetry("wm-1", 2, phase="spin", heater_on=True, door_locked=False, drum_rpm=1200),
    ):
        readings = Telemetry.model_validate_json(message[1]).readings
        assert reading_numbers(readings) == readings.numeric()
