"""The local-only raw vibration topic a washer may publish to its edge agent.

Topic: ``local/{device_id}/vibration_raw`` (QoS 1, not retained) on the HOME broker only;
it never leaves the home: the agent turns each burst into ``x_`` features
(:mod:`edge.features`) and attaches them to the device's next telemetry message.

Payload (UTF-8 JSON object, at most :data:`MAX_BURST_BYTES`)::

    {"schema": "housecall.vibration_raw/1", "device_id": "wm-004512",
     "ts": "2026-07-14T19:41:10Z",           # device time of the burst's first sample
     "sample_rate_hz": 12000, "rpm": 1200.0,  # drum (shaft) speed during the burst
     "samples_f32le": "<base64 of little-endian float32 samples, in g>",
     "bearing": {"balls": 9, "ball_diameter_mm": 7.94, "pitch_diameter_mm": 39.04,
                 "contact_angle_deg": 0}}      # optional, default SKF 6205

``samples`` (a JSON array of numbers) may be sent instead of ``samples_f32le`` by
firmware without base64; exactly one of the two must be present.

>>> import numpy as np
>>> burst = make_burst(
...     "wm-1", np.zeros(2048), sample_rate_hz=12000, rpm=900.0, ts="2026-07-14T19:41:10Z"
... )
>>> parsed = parse_burst("local/wm-1/vibration_raw", burst)
>>> parsed.device_id, parsed.samples().shape
('wm-1', (2048,))
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

import numpy as np
import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.contract import is_valid_device_id
from edge.contract.parse import describe_validation_error
from edge.features import SKF_6205, BearingGeometry, FloatArray

BURST_SCHEMA = "housecall.vibration_raw/1"
LOCAL_ROOT = "local"
BURST_CHANNEL = "vibration_raw"
#: Subscription filter for every device's bursts on the home broker.
BURST_SUBSCRIPTION = f"{LOCAL_ROOT}/+/{BURST_CHANNEL}"
#: 10 s at 12 kHz of float32 in base64 with room to spare.
MAX_BURST_BYTES = 1024 * 1024


class BurstError(ValueError):
    """A raw vibration message that cannot be used; ``str()`` is the reason."""


class BearingSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    balls: Annotated[int, Field(ge=3, le=64)]
    ball_diameter_mm: Annotated[float, Field(gt=0)]
    pitch_diameter_mm: Annotated[float, Field(gt=0)]
    contact_angle_deg: Annotated[float, Field(ge=0, lt=90)] = 0.0

    def geometry(self) -> BearingGeometry:
        return BearingGeometry(
            self.balls, self.ball_diameter_mm, self.pitch_diameter_mm, self.contact_angle_deg
        )


class VibrationBurst(BaseModel):
    """One raw burst; :meth:`samples` decodes the signal."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    schema_: Literal["housecall.vibration_raw/1"] = Field(alias="schema")
    device_id: str
    ts: AwareDatetime
    sample_rate_hz: Annotated[float, Field(gt=0, le=1_000_000)]
    rpm: Annotated[float, Field(gt=0, le=100_000)]
    samples_f32le: str | None = None
    samples_list: list[float] | None = Field(default=None, alias="samples")
    bearing: BearingSpec | None = None

    @model_validator(mode="after")
    def _one_encoding(self) -> VibrationBurst:
        if (self.samples_f32le is None) == (self.samples_list is None):
            raise ValueError("exactly one of 'samples_f32le' and 'samples' is required")
        return self

    def samples(self) -> FloatArray:
        if self.samples_list is not None:
            return np.asarray(self.samples_list, dtype=np.float64)
        assert self.samples_f32le is not None
        try:
            raw = base64.b64decode(self.samples_f32le, validate=True)
        except (binascii.Error, ValueError):
            raise BurstError("samples_f32le is not valid base64") from None
        if len(raw) % 4:
            raise BurstError(f"samples_f32le holds {len(raw)} bytes, not whole float32 values")
        return np.frombuffer(raw, dtype="<f4").astype(np.float64)

    def geometry(self) -> BearingGeometry:
        return self.bearing.geometry() if self.bearing else SKF_6205


def burst_topic(device_id: str) -> str:
    return f"{LOCAL_ROOT}/{device_id}/{BURST_CHANNEL}"


def is_burst_topic(topic: str) -> bool:
    return topic.startswith(f"{LOCAL_ROOT}/") and topic.endswith(f"/{BURST_CHANNEL}")


def parse_burst(topic: str, payload: bytes) -> VibrationBurst:
    """Validate a burst message or raise :class:`BurstError` with one readable reason."""
    parts = topic.split("/")
    if len(parts) != 3 or not is_valid_device_id(parts[1]):
        raise BurstError(f"topic {topic!r} is not local/{{device_id}}/{BURST_CHANNEL}")
    if len(payload) > MAX_BURST_BYTES:
        raise BurstError(f"burst of {len(payload)} bytes exceeds {MAX_BURST_BYTES}")
    try:
        burst = VibrationBurst.model_validate_json(payload)
    except ValidationError as err:
        raise BurstError(describe_validation_error(err)) from None
    if burst.device_id != parts[1]:
        raise BurstError(f"payload device_id {burst.device_id!r} differs from the topic's")
    return burst


def make_burst(
    device_id: str,
    samples: FloatArray,
    *,
    sample_rate_hz: float,
    rpm: float,
    ts: str,
    bearing: BearingGeometry | None = None,
) -> bytes:
    """Encode a burst as firmware would (base64 float32); used by simulators and tests."""
    body: dict[str, object] = {
        "schema": BURST_SCHEMA,
        "device_id": device_id,
        "ts": ts,
        "sample_rate_hz": sample_rate_hz,
        "rpm": rpm,
        "samples_f32le": base64.b64encode(np.asarray(samples, dtype="<f4").tobytes()).decode(),
    }
    if bearing is not None:
        body["bearing"] = {
            "balls": bearing.balls,
            "ball_diameter_mm": bearing.ball_diameter_mm,
            "pitch_diameter_mm": bearing.pitch_diameter_mm,
            "contact_angle_deg": bearing.contact_angle_deg,
        }
    return orjson.dumps(body)
