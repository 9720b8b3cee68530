"""Turn (topic, payload bytes) into a contract message, or one readable reason why not.

This is the only place raw MQTT bytes become typed messages, so every consumer
(gateway ingest, edge agent, tests) agrees on what is valid and on the wording of
the reasons a message is refused.

>>> parse_message("appliances/ac-1/status", b"offline").payload
<Status.OFFLINE: 'offline'>
>>> try:
...     parse_message("appliances/ac-1/telemetry", b"{nope")
... except ContractViolation as err:
...     print(err.reason.value)
not_json
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import orjson
from pydantic import BaseModel, ValidationError

from edge.contract.models import (
    BIRTH_SCHEMA,
    EVENT_ADAPTER,
    EVENT_SCHEMA,
    TELEMETRY_SCHEMA,
    Birth,
    EventBase,
    Status,
    Telemetry,
)
from edge.contract.topics import Channel, TopicError, parse_topic

#: Default largest payload accepted (the gateway's ``max_payload_bytes`` setting).
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024


class Reason(StrEnum):
    """Why a message went to the dead-letter store; also the metrics label."""

    OVERSIZE = "oversize"
    BAD_TOPIC = "bad_topic"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NON_FINITE = "non_finite"
    UNKNOWN_SCHEMA = "unknown_schema"
    INVALID = "invalid"
    DEVICE_MISMATCH = "device_mismatch"


class ContractViolation(ValueError):
    """A message outside the contract; ``reason`` is the category, ``detail`` says what."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


JsonMessage = Birth | Telemetry | EventBase
Payload = JsonMessage | Status


@dataclass(frozen=True, slots=True)
class Inbound:
    """A valid message with the device and channel it arrived on."""

    device_id: str
    channel: Channel
    payload: Payload


_VALIDATOR_BY_CHANNEL: dict[Channel, tuple[Callable[[bytes], JsonMessage], str]] = {
    Channel.BIRTH: (Birth.model_validate_json, BIRTH_SCHEMA),
    Channel.TELEMETRY: (Telemetry.model_validate_json, TELEMETRY_SCHEMA),
    Channel.EVENTS: (EVENT_ADAPTER.validate_json, EVENT_SCHEMA),
}


def parse_message(
    topic: str, payload: bytes, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> Inbound:
    """Validate one MQTT message against the contract or raise :class:`ContractViolation`."""
    try:
        address = parse_topic(topic)
    except TopicError as err:
        raise ContractViolation(Reason.BAD_TOPIC, str(err)) from None
    if len(payload) > max_bytes:
        raise ContractViolation(
            Reason.OVERSIZE, f"payload of {len(payload)} bytes exceeds the {max_bytes}-byte limit"
        )
    if address.channel is Channel.STATUS:
        return Inbound(address.device_id, address.channel, _parse_status(payload))
    validate, schema = _VALIDATOR_BY_CHANNEL[address.channel]
    message = _parse_json(validate, schema, payload)
    if message.device_id != address.device_id:
        raise ContractViolation(
            Reason.DEVICE_MISMATCH,
            f"payload device_id {message.device_id!r} differs from topic's {address.device_id!r}",
        )
    return Inbound(address.device_id, address.channel, message)


def _parse_status(payload: bytes) -> Status:
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ContractViolation(Reason.NOT_UTF8, "status payload is not UTF-8") from None
    try:
        return Status(text)
    except ValueError:
        raise ContractViolation(
            Reason.INVALID, f"status must be 'online' or 'offline', got {text[:40]!r}"
        ) from None


def _parse_json(
    validate: Callable[[bytes], JsonMessage], schema: str, payload: bytes
) -> JsonMessage:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ContractViolation(Reason.NOT_UTF8, f"payload is not UTF-8 ({err.reason})") from None
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        text = payload.decode("utf-8", errors="replace")
        if "infinity" in str(err) or any(token in text for token in ("NaN", "Infinity")):
            raise ContractViolation(
                Reason.NON_FINITE, "NaN and infinities are not allowed in readings"
            ) from None
        raise ContractViolation(Reason.NOT_JSON, f"payload is not JSON ({err})") from None
    if not isinstance(raw, dict):
        raise ContractViolation(Reason.INVALID, "payload must be a JSON object")
    declared = raw.get("schema")
    if declared != schema:
        raise ContractViolation(
            Reason.UNKNOWN_SCHEMA,
            f"schema {str(declared)[:60]!r} is not {schema!r}, the one this topic carries",
        )
    try:
        return validate(payload)
    except ValidationError as err:
        raise ContractViolation(Reason.INVALID, describe_validation_error(err)) from None


def describe_validation_error(err: ValidationError, limit: int = 3) -> str:
    """One line naming the offending fields, e.g. ``readings.setpoint_c: Input should be ...``."""
    parts = []
    for item in err.errors(include_url=False)[:limit]:
        location = ".".join(str(p) for p in item["loc"] if not _is_union_tag(p)) or "payload"
        parts.append(f"{location}: {item['msg']}")
    more = err.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _is_union_tag(part: int | str) -> bool:
    return part in {"ac", "washer", "error", "cycle_end", "user"}


def encode(message: BaseModel) -> bytes:
    """Serialise a contract message exactly as firmware sends it (aliases, no unset extras)."""
    return orjson.dumps(message.model_dump(mode="json", by_alias=True, exclude_none=True))
