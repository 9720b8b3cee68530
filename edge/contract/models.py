"""The wire contract's payloads as pydantic v2 models, coded once on the device side.

Validation is strict about types (a string is not a number, a number is not a
boolean), refuses NaN and infinities, and ignores unknown fields so newer
firmware keeps working. Readings a sensor could not take are ``None``.

>>> t = Telemetry.model_validate_json(
...     b'{"schema": "housecall.telemetry/1", "device_id": "ac-1", "seq": 3,'
...     b' "ts": "2026-07-14T13:05:00Z", "readings": {"mode": "cool", "setpoint_c": 24,'
...     b' "x_vibration_kurtosis": 3.1, "future_field": "ignored"}}'
... )
>>> t.readings.setpoint_c, t.readings.extra_features()
(24.0, {'x_vibration_kurtosis': 3.1})
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from edge.contract.faults import Fault, Kind
from edge.contract.topics import DEVICE_ID_PATTERN

BIRTH_SCHEMA = "housecall.birth/1"
TELEMETRY_SCHEMA = "housecall.telemetry/1"
EVENT_SCHEMA = "housecall.event/1"
NOTICE_SCHEMA = "housecall.notice/1"

DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
ShortText = Annotated[str, Field(max_length=128)]
Reading = float | None
MAX_SEQ = 2**63 - 1


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_RFC3339_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339_text(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """The contract's times are RFC 3339 strings: pydantic alone would also take ``"0"``
    (a unix epoch, 1970) from a device whose clock was never set."""
    if isinstance(value, str):
        try:
            if not _RFC3339_START.match(value):
                raise ValueError  # noqa: TRY301 - refused the same way as the parser refuses
            value = datetime.fromisoformat(value.upper())
        except ValueError:
            raise ValueError("ts must be an RFC 3339 time such as 2026-07-14T13:05:00Z") from None
    return handler(value)


class ContractModel(BaseModel):
    """Base of every contract payload: strict types, finite numbers, unknown fields ignored."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        allow_inf_nan=False,
        frozen=True,
        populate_by_name=True,
        str_max_length=4096,
    )


class Message(ContractModel):
    """Fields every JSON message carries: the device and the device time."""

    device_id: DeviceId
    ts: AwareDatetime
    via: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)] | None = None

    _utc_ts = field_validator("ts")(_as_utc)
    _text_ts = field_validator("ts", mode="wrap")(_rfc3339_text)


class Refrigerant(StrEnum):
    R32 = "R32"
    R410A = "R410A"


class Birth(Message):
    """Sent retained on every (re)connect, before any telemetry."""

    schema_: Literal["housecall.birth/1"] = Field(alias="schema")
    kind: Kind
    brand: ShortText
    model: ShortText
    firmware: ShortText | None = None
    serial: ShortText | None = None
    refrigerant: Refrigerant | None = None
    installed_on: date | None = None
    warranty_until: date | None = None
    region: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")] | None = None
    postcode: ShortText | None = None


class Status(StrEnum):
    """The bare-text ``status`` payload."""

    ONLINE = "online"
    OFFLINE = "offline"


class AcMode(StrEnum):
    COOL = "cool"
    HEAT = "heat"
    DRY = "dry"
    FAN = "fan"
    OFF = "off"


class WasherPhase(StrEnum):
    IDLE = "idle"
    FILL = "fill"
    WASH = "wash"
    HEAT = "heat"
    RINSE = "rinse"
    DRAIN = "drain"
    SPIN = "spin"


EXTRA_FEATURE_PREFIX = "x_"


class Readings(ContractModel):
    """Common behaviour of both readings kinds: keep numeric ``x_`` features, drop other extras."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _keep_only_features(self) -> Self:
        """Of the unknown fields keep the ``x_`` features (numbers), drop the rest.

        An *after* validator: it looks only at the extras (usually none), where a
        *before* one walked every field of every message in Python, a third of the
        gateway's validation cost.
        """
        extra = self.__pydantic_extra__
        if not extra:
            return self
        for name in list(extra):
            value = extra[name]
            if not name.startswith(EXTRA_FEATURE_PREFIX) or value is None:
                del extra[name]
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"feature {name!r} must be a number or null")
            else:
                try:
                    number = float(value)
                except OverflowError:  # an integer beyond any float
                    number = math.inf
                if not math.isfinite(number):
                    raise ValueError(f"feature {name!r} must be finite")
                extra[name] = number
        return self

    def extra_features(self) -> dict[str, float]:
        """The optional ``x_*`` numeric features this message carried."""
        return dict(self.model_extra or {})

    def numeric(self) -> dict[str, float]:
        """Every numeric reading present (booleans as 0/1), ``x_`` features included."""
        out: dict[str, float] = {}
        for name, value in self:
            if isinstance(value, bool):
                out[name] = 1.0 if value else 0.0
            elif isinstance(value, int | float):
                out[name] = float(value)
        out.update(self.extra_features())
        return out


class AcReadings(Readings):
    """Inverter split system readings (contract section 2, AC table)."""

    kind: Literal[Kind.AC] = Field(default=Kind.AC, exclude=True)
    mode: AcMode | None = None
    setpoint_c: Reading = None
    room_temp_c: Reading = None
    supply_temp_c: Reading = None
    outdoor_temp_c: Reading = None
    indoor_coil_temp_c: Reading = None
    outdoor_coil_temp_c: Reading = None
    suction_temp_c: Reading = None
    discharge_temp_c: Reading = None
    compressor_hz: Reading = None
    compressor_current_a: Reading = None
    eev_steps: Reading = None
    indoor_fan_rpm: Reading = None
    outdoor_fan_rpm: Reading = None
    power_w: Reading = None


class WasherReadings(Readings):
    """Front-loader readings sampled while a cycle runs (contract section 2, washer table)."""

    kind: Literal[Kind.WASHER] = Field(default=Kind.WASHER, exclude=True)
    phase: WasherPhase | None = None
    program: ShortText | None = None
    drum_rpm: Reading = None
    target_rpm: Reading = None
    motor_current_a: Reading = None
    water_temp_c: Reading = None
    target_temp_c: Reading = None
    heater_on: bool | None = None
    water_level_mm: Reading = None
    drain_pump_current_a: Reading = None
    vibration_rms_g: Reading = None
    door_locked: bool | None = None
    load_kg: Reading = None
    power_w: Reading = None


_WASHER_ONLY = frozenset(WasherReadings.model_fields) - frozenset(AcReadings.model_fields)


def _readings_kind(value: Any) -> str:
    """Telemetry does not name its kind: washer-only field names identify a washer."""
    if isinstance(value, Readings):
        return value.kind.value  # type: ignore[attr-defined, no-any-return]
    if isinstance(value, dict) and not _WASHER_ONLY.isdisjoint(value):
        return Kind.WASHER.value
    return Kind.AC.value


AnyReadings = Annotated[
    Annotated[AcReadings, Tag(Kind.AC.value)] | Annotated[WasherReadings, Tag(Kind.WASHER.value)],
    Discriminator(_readings_kind),
]


class Telemetry(Message):
    """A periodic sample; ``seq`` increases by one per message and survives reboots."""

    schema_: Literal["housecall.telemetry/1"] = Field(alias="schema")
    seq: Annotated[int, Field(ge=0, le=MAX_SEQ)]
    readings: AnyReadings
    #: Set by an edge agent replaying its outbox after an outage: the data is not live.
    replay: bool | None = None


class EventType(StrEnum):
    ERROR = "error"
    CYCLE_END = "cycle_end"
    USER = "user"


class ErrorData(ContractModel):
    """The appliance stopped with a code the customer sees."""

    code: Annotated[str, Field(min_length=1, max_length=32)]
    text: ShortText | None = None


class CycleEndData(ContractModel):
    """A washer cycle's summary; any figure the firmware could not measure is null."""

    program: ShortText | None = None
    duration_s: Reading = None
    fill_time_s: Reading = None
    heat_time_s: Reading = None
    drain_time_s: Reading = None
    max_spin_rpm: Reading = None
    spin_vibration_rms_g: Reading = None
    unbalance_retries: Annotated[int, Field(ge=0)] | None = None
    water_l: Reading = None
    energy_wh: Reading = None
    load_kg: Reading = None
    error_code: Annotated[str, Field(max_length=32)] | None = None


class UserData(ContractModel):
    """A user action: ``{"action": "setpoint", "value": 22.0}`` and similar."""

    action: ShortText
    value: float | str | bool | None = None


class EventBase(Message):
    """Fields of every event; ``seq`` counts events separately from telemetry."""

    schema_: Literal["housecall.event/1"] = Field(alias="schema")
    seq: Annotated[int, Field(ge=0, le=MAX_SEQ)]
    #: Set by an edge agent replaying its outbox after an outage: the data is not live.
    replay: bool | None = None


class ErrorEvent(EventBase):
    """The appliance stopped with a fault code: the customer has already noticed."""

    type: Literal["error"]
    data: ErrorData


class CycleEndEvent(EventBase):
    """A washer finished (or aborted) a cycle; ``data`` summarises it."""

    type: Literal["cycle_end"]
    data: CycleEndData


class UserEvent(EventBase):
    """Someone changed a setpoint or mode, opened a door, paused a cycle..."""

    type: Literal["user"]
    data: UserData


#: An event of any type, told apart by its ``type`` field.
Event = Annotated[ErrorEvent | CycleEndEvent | UserEvent, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[ErrorEvent | CycleEndEvent | UserEvent] = TypeAdapter(Event)


class Notice(ContractModel):
    """What the gateway publishes on ``service/{device_id}/notices``."""

    schema_: Literal["housecall.notice/1"] = Field(default="housecall.notice/1", alias="schema")
    device_id: DeviceId
    ts: AwareDatetime
    fault: Fault
    action: ShortText
    text: Annotated[str, Field(max_length=1024)]


# --- Work orders (contract section 4): the shape brands' systems integrate against ---


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class WorkOrderStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    FALSE_ALARM = "false_alarm"


class WarrantyStatus(StrEnum):
    IN_WARRANTY = "in_warranty"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


class Evidence(ContractModel):
    """One signal that moved: what a healthy twin shows beside what this unit shows."""

    signal: str
    baseline: float
    observed: float
    unit: str


class Alternative(ContractModel):
    fault: Fault
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]


class WorkOrder(ContractModel):
    """The contract's work-order fields; the gateway's own API may add more."""

    model_config = ConfigDict(strict=False, extra="allow")

    id: str
    device_id: DeviceId
    kind: Kind
    fault: Fault
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    severity: Severity
    status: WorkOrderStatus
    opened_at: AwareDatetime
    predicted_failure_at: AwareDatetime | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    recommended_parts: list[str] = Field(default_factory=list)
    warranty: WarrantyStatus = WarrantyStatus.UNKNOWN


class WorkOrderPage(ContractModel):
    model_config = ConfigDict(strict=False)

    items: list[WorkOrder]
    next: str | None = None
