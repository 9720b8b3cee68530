"""Parsing accepts everything the contract allows and refuses everything else with a reason.

Hypothesis generates valid messages (which must round-trip) and corrupts them in
every way firmware or a network can: wrong types, missing fields, NaN and
infinities, oversize strings, unknown enum values, wrong schema versions, a
device id that differs from the topic's. Parsing must either accept per the
contract or raise ``ContractViolation`` with a readable reason: never anything else.
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import datetime
from typing import Any, TypeVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.contract import (
    AcReadings,
    Birth,
    Channel,
    ContractViolation,
    CycleEndEvent,
    ErrorEvent,
    Reason,
    Status,
    Telemetry,
    WasherReadings,
    birth_topic,
    encode,
    events_topic,
    parse_message,
    status_topic,
    telemetry_topic,
)

device_ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
# Naive on purpose: strftime below writes them with a literal Z (UTC).
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(  # noqa: DTZ001
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
T = TypeVar("T")


def maybe(values: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """A reading a sensor could not take is null."""
    return st.one_of(st.none(), values)


def optional(
    required: dict[str, st.SearchStrategy[Any]] | None = None, **fields: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Dictionaries with ``required`` keys and any subset of ``fields``."""
    return st.fixed_dictionaries(required or {}, optional=fields)


ac_readings = optional(
    mode=st.sampled_from(["cool", "heat", "dry", "fan", "off"]),
    setpoint_c=maybe(finite),
    room_temp_c=maybe(finite),
    outdoor_temp_c=maybe(finite),
    indoor_coil_temp_c=maybe(finite),
    compressor_hz=maybe(finite),
    eev_steps=maybe(st.integers(0, 480)),
    power_w=maybe(finite),
    x_vibration_kurtosis=maybe(finite),
)
washer_readings = optional(
    {"phase": st.sampled_from(["idle", "fill", "wash", "heat", "rinse", "drain", "spin"])},
    program=st.sampled_from(["cotton", "synthetic", "quick", "wool"]),
    drum_rpm=maybe(finite),
    heater_on=maybe(st.booleans()),
    door_locked=maybe(st.booleans()),
    water_level_mm=maybe(finite),
    x_envelope_energy=maybe(finite),
)


@st.composite
def telemetry_payloads(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "schema": "housecall.telemetry/1",
        "device_id": draw(device_ids),
        "seq": draw(st.integers(0, 2**63 - 1)),
        "ts": draw(timestamps),
        "readings": draw(st.one_of(ac_readings, washer_readings)),
        **draw(
            st.fixed_dictionaries({}, optional={"via": device_ids, "unknown_future": st.text()})
        ),
    }


def _dumps(value: Any) -> bytes:
    # json (not orjson) so NaN and Infinity can be written, as careless firmware would.
    return json.dumps(value).encode()


@given(telemetry_payloads())
def test_valid_telemetry_is_accepted_and_round_trips(payload: dict[str, Any]) -> None:
    raw = _dumps(payload)
    message = parse_message(telemetry_topic(payload["device_id"]), raw).payload
    assert isinstance(message, Telemetry)
    assert message.seq == payload["seq"]
    expected = WasherReadings if "phase" in payload["readings"] else AcReadings
    assert isinstance(message.readings, expected)
    again = parse_message(telemetry_topic(payload["device_id"]), encode(message)).payload
    assert again == message


BAD_VALUES = st.one_of(
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(True),
)
NOT_AN_OBJECT = st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2), st.just(True))


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, bytes, set[Reason]]:
    """A valid telemetry payload with one contract violation, and the reasons allowed for it."""
    payload = draw(telemetry_payloads())
    device_id = payload["device_id"]
    mutation = draw(
        st.sampled_from(
            [
                "wrong_type",
                "missing",
                "nan",
                "infinity",
                "oversize_string",
                "bad_enum",
                "schema",
                "mismatch",
                "not_object",
                "garbage",
                "bad_seq",
                "naive_ts",
            ]
        )
    )
    topic = telemetry_topic(device_id)
    allowed = {Reason.INVALID}
    if mutation == "wrong_type":
        field = draw(st.sampled_from(["seq", "ts", "readings", "device_id"]))
        # Any object is valid readings (unknown names are ignored), so readings get a non-object.
        payload[field] = draw(NOT_AN_OBJECT if field == "readings" else BAD_VALUES)
        allowed = {Reason.INVALID, Reason.DEVICE_MISMATCH}
    elif mutation == "missing":
        del payload[draw(st.sampled_from(["seq", "ts", "readings", "device_id"]))]
        allowed = {Reason.INVALID, Reason.DEVICE_MISMATCH}
    elif mutation in {"nan", "infinity"}:
        name = draw(st.sampled_from(["setpoint_c", "x_feature", "drum_rpm"]))
        payload["readings"][name] = math.nan if mutation == "nan" else -math.inf
        allowed = {Reason.NON_FINITE}
    elif mutation == "oversize_string":
        payload["readings"] = {"phase": "wash", "program": "x" * draw(st.integers(129, 5000))}
    elif mutation == "bad_enum":
        key = "phase" if "phase" in payload["readings"] else "mode"
        payload["readings"][key] = draw(st.text(min_size=1, max_size=8).filter(_not_enum))
    elif mutation == "schema":
        payload["schema"] = draw(
            st.sampled_from(["housecall.telemetry/2", "housecall.birth/1", "", None, 7])
        )
        allowed = {Reason.UNKNOWN_SCHEMA}
    elif mutation == "mismatch":
        payload["device_id"] = device_id + "x" if len(device_id) < 64 else "other"
        allowed = {Reason.DEVICE_MISMATCH}
    elif mutation == "not_object":
        return topic, _dumps(draw(st.lists(st.integers(), max_size=3))), {Reason.INVALID}
    elif mutation == "garbage":
        raw = draw(st.binary(max_size=40).filter(_not_json_object))
        return topic, raw, {Reason.NOT_JSON, Reason.NOT_UTF8, Reason.INVALID}
    elif mutation == "bad_seq":
        payload["seq"] = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)))
    elif mutation == "naive_ts":
        payload["ts"] = payload["ts"].removesuffix("Z")
    return topic, _dumps(payload), allowed


def _not_enum(text: str) -> bool:
    return text not in {
        "cool",
        "heat",
        "dry",
        "fan",
        "off",
        "idle",
        "fill",
        "wash",
    } and text not in {
        "rinse",
        "drain",
        "spin",
    }


def _not_json_object(raw: bytes) -> bool:
    try:
        return not isinstance(orjson.loads(raw), dict | list)
    except orjson.JSONDecodeError:
        return True


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(corrupted())
def test_invalid_payloads_raise_the_contract_error_with_a_reason(
    case: tuple[str, bytes, set[Reason]],
) -> None:
    topic, raw, allowed = case
    with pytest.raises(ContractViolation) as caught:
        parse_message(topic, raw)
    assert caught.value.reason in allowed, caught.value
    assert caught.value.detail  # a readable reason, not an empty string
    assert "\n" not in caught.value.detail


@given(st.binary(max_size=300), st.sampled_from(list(Channel)), device_ids)
def test_arbitrary_bytes_never_raise_anything_but_the_contract_error(
    raw: bytes, channel: Channel, device_id: str
) -> None:
    topic = f"appliances/{device_id}/{channel.value}"
    with contextlib.suppress(ContractViolation):
        parse_message(topic, raw)


def test_oversize_payload_is_refused_before_parsing() -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_message(telemetry_topic("ac-1"), b"{" + b" " * 70_000 + b"}")
    assert caught.value.reason is Reason.OVERSIZE


@pytest.mark.parametrize(
    "topic",
    [
        "appliances/ac 1/telemetry",
        "appliances/ac-1/pings",
        "devices/ac-1/telemetry",
        "appliances/x",
    ],
)
def test_topics_outside_the_grammar_are_refused(topic: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_message(topic, b"{}")
    assert caught.value.reason is Reason.BAD_TOPIC


CONTRACT_BIRTH = {
    "schema": "housecall.birth/1",
    "device_id": "ac-000123",
    "kind": "ac",
    "brand": "Aurora",
    "model": "AUR-S35-INV",
    "firmware": "3.4.1",
    "serial": "A35K2207451",
    "refrigerant": "R32",
    "installed_on": "2024-05-02",
    "warranty_until": "2027-05-02",
    "region": "CN-32",
    "postcode": "210000",
    "ts": "2026-07-14T13:00:00Z",
}


def test_the_contract_examples_parse() -> None:
    birth = parse_message(birth_topic("ac-000123"), _dumps(CONTRACT_BIRTH)).payload
    assert isinstance(birth, Birth)
    assert birth.warranty_until is not None
    assert birth.warranty_until.year == 2027
    cycle_end = {
        "schema": "housecall.event/1",
        "device_id": "wm-004512",
        "seq": 912,
        "ts": "2026-07-14T19:41:10Z",
        "type": "cycle_end",
        "data": {
            "program": "cotton",
            "duration_s": 5820,
            "fill_time_s": 212,
            "heat_time_s": 1180,
            "drain_time_s": 41,
            "max_spin_rpm": 1380,
            "spin_vibration_rms_g": 0.31,
            "unbalance_retries": 1,
            "water_l": 48.5,
            "energy_wh": 910,
            "load_kg": 6.5,
            "error_code": None,
        },
    }
    event = parse_message(events_topic("wm-004512"), _dumps(cycle_end)).payload
    assert isinstance(event, CycleEndEvent)
    assert event.data.drain_time_s == 41.0
    error = {**cycle_end, "type": "error", "data": {"code": "E21", "text": "drain timeout"}}
    assert isinstance(parse_message(events_topic("wm-004512"), _dumps(error)).payload, ErrorEvent)
    assert parse_message(status_topic("ac-1"), b"online").payload is Status.ONLINE


def test_birth_from_another_device_is_refused() -> None:
    with pytest.raises(ContractViolation) as caught:
        parse_message(birth_topic("ac-000999"), _dumps(CONTRACT_BIRTH))
    assert caught.value.reason is Reason.DEVICE_MISMATCH


def test_unknown_event_type_is_refused_with_the_known_ones_named() -> None:
    event = {
        "schema": "housecall.event/1",
        "device_id": "wm-1",
        "seq": 1,
        "ts": "2026-07-14T19:41:10Z",
        "type": "explosion",
        "data": {},
    }
    with pytest.raises(ContractViolation) as caught:
        parse_message(events_topic("wm-1"), _dumps(event))
    assert "cycle_end" in caught.value.detail


def test_missing_and_null_readings_are_accepted() -> None:
    payload = {
        "schema": "housecall.telemetry/1",
        "device_id": "ac-1",
        "seq": 0,
        "ts": "2026-07-14T13:05:00.123456+02:00",
        "readings": {"mode": "cool", "room_temp_c": None},
    }
    message = parse_message(telemetry_topic("ac-1"), _dumps(payload)).payload
    assert isinstance(message, Telemetry)
    assert message.ts.utcoffset() is not None
    assert message.ts.hour == 11  # normalised to UTC
    assert message.readings.numeric() == {}


def test_extras_keep_numeric_features_only_and_refuse_bad_ones() -> None:
    """Unknown fields are dropped, ``x_`` numbers kept as floats, a bad ``x_`` value refused."""

    def readings(extra: str) -> bytes:
        return (
            b'{"schema": "housecall.telemetry/1", "device_id": "ac-1", "seq": 1,'
            b' "ts": "2026-07-14T13:05:00Z", "readings": {"mode": "cool", ' + extra.encode() + b"}}"
        )

    kept = Telemetry.model_validate_json(readings('"x_a": 3, "x_b": null, "future": "x"'))
    assert kept.readings.extra_features() == {"x_a": 3.0}
    assert kept.readings.model_extra == {"x_a": 3.0}
    for bad in ('"x_a": "3"', '"x_a": true', '"x_a": 1' + "0" * 400):
        with pytest.raises(ValueError, match="x_a"):
            Telemetry.model_validate_json(readings(bad))


def test_a_unix_epoch_string_is_not_a_time() -> None:
    # Found by the property test above: pydantic alone read "0" as 1970-01-01.
    raw = (
        b'{"schema": "housecall.telemetry/1", "device_id": "0", "seq": 0, "ts": "0",'
        b' "readings": {}}'
    )
    with pytest.raises(ContractViolation) as caught:
        parse_message("appliances/0/telemetry", raw)
    assert caught.value.reason is Reason.INVALID
    assert "RFC 3339" in str(caught.value)
