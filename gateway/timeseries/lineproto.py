"""InfluxDB line protocol, built directly (an influxdb-client ``Point`` costs ~26 µs each).

Only numeric fields are written (victoria-metrics stores strings as 0); booleans
become 0/1. Tags: ``device``, ``kind``, ``model``. Timestamps are the device time
in milliseconds, the precision the writer declares.

>>> from datetime import UTC, datetime
>>> print(telemetry_line("ac-1", 7, datetime(2026, 7, 14, tzinfo=UTC),
...       {"setpoint_c": 24.0}, kind="ac", model="AUR S35"))
telemetry,device=ac-1,kind=ac,model=AUR\\ S35 seq=7.0,setpoint_c=24.0 1783987200000
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel

from edge.contract import CycleEndEvent, EventBase, UserEvent

TELEMETRY_MEASUREMENT = "telemetry"
EVENT_MEASUREMENT = "event"
UNKNOWN_TAG = "unknown"

_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\n", "\\": "\\\\"})
_KEY_ESCAPES = _TAG_ESCAPES


def escape_tag(value: str) -> str:
    """Escape a tag key or value (commas, equals signs, spaces)."""
    return value.translate(_TAG_ESCAPES) or UNKNOWN_TAG


def to_millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


#: Escaped field keys: reading names are a small fixed set, so escape each once.
_KEY_CACHE: dict[str, str] = {}
#: Tag sets per (device, kind, model); bounded by the fleet, cleared if it grows past this.
_TAG_CACHE: dict[tuple[str, str | None, str | None], str] = {}
_TAG_CACHE_MAX = 1_000_000


def _key(name: str) -> str:
    escaped = _KEY_CACHE.get(name)
    if escaped is None:
        if len(_KEY_CACHE) > 10_000:
            _KEY_CACHE.clear()
        escaped = _KEY_CACHE[name] = name.translate(_KEY_ESCAPES)
    return escaped


def reading_values(readings: BaseModel) -> Mapping[str, object]:
    """A validated readings model's values and ``x_`` features, for :func:`telemetry_line`.

    No copy, no conversion: :func:`telemetry_line` picks out the numbers itself, in
    the one pass over the fields it makes anyway.
    """
    extra = readings.__pydantic_extra__
    return {**readings.__dict__, **extra} if extra else readings.__dict__


def _fields(seq: int, values: Mapping[str, object]) -> str:
    """``seq=7.0,name=value,...`` from the numbers among ``values`` (booleans as 0/1).

    Strings, enums and ``None`` are not fields; a non-finite number (never valid
    input) is left out. A plain loop dispatching on the exact type: this runs for
    every stored sample.
    """
    keys = _KEY_CACHE
    out = [f"seq={float(seq)!r}"]
    append = out.append
    for name, value in values.items():
        kind = type(value)
        if kind is float:
            number = cast(float, value)
            if number - number != 0.0:  # NaN or an infinity
                continue
            text = repr(number)
        elif kind is bool:
            text = "1.0" if value else "0.0"
        elif kind is int:
            text = repr(float(cast(int, value)))
        else:
            continue
        key = keys.get(name)
        if key is None:
            key = _key(name)
        append(f"{key}={text}")
    return ",".join(out)


def _tags(device_id: str, kind: str | None, model: str | None) -> str:
    cache_key = (device_id, kind, model)
    tags = _TAG_CACHE.get(cache_key)
    if tags is None:
        if len(_TAG_CACHE) >= _TAG_CACHE_MAX:
            _TAG_CACHE.clear()
        tags = _TAG_CACHE[cache_key] = (
            f"device={escape_tag(device_id)},kind={escape_tag(kind or '')},"
            f"model={escape_tag(model or '')}"
        )
    return tags


def telemetry_line(
    device_id: str,
    seq: int,
    ts: datetime,
    values: Mapping[str, object],
    *,
    kind: str | None,
    model: str | None,
) -> str:
    """One telemetry sample: every number among ``values`` plus ``seq`` as fields."""
    tags = _tags(device_id, kind, model)
    return f"{TELEMETRY_MEASUREMENT},{tags} {_fields(seq, values)} {to_millis(ts)}"


def event_line(
    device_id: str,
    seq: int,
    ts: datetime,
    numeric: Mapping[str, float],
    *,
    kind: str | None,
    model: str | None,
    event_type: str,
) -> str:
    """One event: its numeric data (e.g. a washer cycle's summary) plus ``seq``."""
    tags = f"{_tags(device_id, kind, model)},type={escape_tag(event_type)}"
    return f"{EVENT_MEASUREMENT},{tags} {_fields(seq, numeric)} {to_millis(ts)}"


def marker_line(measurement: str, gateway: str, batch_id: int, wall_ms: int) -> str:
    """The line that ends every delivered spool entry, so a restart can ask what arrived."""
    return f"{measurement},gateway={escape_tag(gateway)} batch={float(batch_id)!r} {wall_ms}"


def event_numeric(event: EventBase) -> dict[str, float]:
    """The numbers an event carries, for the time-series store (strings are not stored)."""
    if isinstance(event, CycleEndEvent):
        return _numbers(event.data.model_dump().items())
    if isinstance(event, UserEvent):
        value = event.data.value
        if isinstance(value, bool):
            return {"value": 1.0 if value else 0.0}
        if isinstance(value, int | float):
            return {"value": float(value)}
    return {}


def _numbers(items: Iterable[tuple[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in items:
        if isinstance(value, bool):
            out[name] = 1.0 if value else 0.0
        elif isinstance(value, int | float):
            out[name] = float(value)
    return out
