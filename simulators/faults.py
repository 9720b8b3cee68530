"""Which unit gets which fault when, how it progresses, and the ground truth it leaves.

A fault is injected with an onset, a progression and a per-unit severity, so the
same fault looks different from unit to unit. ``level(t)`` is the degradation in
0..1 (1 = the worst this unit will get): gradual faults ramp up over
``ramp_days`` (weeks), sudden ones jump to their severity at the onset. The
appliance models turn the level into physics (charge lost, coil UA lost, bearing
roughness...), and the physics, not this module, decides when the customer notices.

>>> from edge.contract import Fault
>>> plan = FaultPlan(0, Fault.REFRIGERANT_LEAK, onset_s=0.0, ramp_s=10 * 86400.0, severity=0.8)
>>> plan.level(5 * 86400.0), plan.level(20 * 86400.0), plan.level(-1.0)
(0.4, 0.8, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from edge.contract import FAULTS_BY_KIND, Fault, Kind
from simulators.variation import stretch_ramp_days, stretch_severity

DAY_S = 86400.0
#: The only codes a sensor fault itself shows (AC thermistor, washer temperature and level).
SENSOR_CODES = frozenset({"E6", "E61", "E62"})
#: Codes only this fault's own protection raises: they count at any level of the fault.
SPECIFIC_CODES: dict[Fault, frozenset[str]] = {
    Fault.REFRIGERANT_LEAK: frozenset({"E4"}),
    Fault.CONDENSER_FOULING: frozenset({"E1"}),
    Fault.OUTDOOR_FAN_FAILURE: frozenset({"E8", "E1"}),
    Fault.DIRTY_FILTER: frozenset({"E5"}),
    Fault.COMPRESSOR_WEAR: frozenset({"E7"}),
    Fault.BEARING_WEAR: frozenset({"E52"}),
    Fault.DRAIN_PUMP_CLOG: frozenset({"E21"}),
    Fault.INLET_VALVE_RESTRICTION: frozenset({"E10"}),
    Fault.HEATER_FAILURE: frozenset({"E05"}),
    Fault.MOTOR_BELT_SLIP: frozenset({"E53"}),
    Fault.SUSPENSION_WEAR: frozenset({"E38"}),
}
#: Below this degradation level an error event is not attributed to the fault.
NOTICE_MIN_LEVEL = 0.25

#: Faults that happen at once (a part breaks) rather than developing over weeks.
SUDDEN_VARIANTS: dict[Fault, float] = {
    # probability that an injected fault of this kind is sudden
    Fault.OUTDOOR_FAN_FAILURE: 0.4,  # motor dead at once; otherwise the capacitor fades first
    Fault.HEATER_FAILURE: 0.4,  # element open at once; otherwise scale builds up
    Fault.SENSOR_FAULT: 0.5,  # stuck at once; otherwise the thermistor drifts
}

#: Shape exponent of the gradual progression (1 = linear, 2 = accelerating wear).
_PROGRESSION_EXPONENT: dict[Fault, float] = {
    Fault.REFRIGERANT_LEAK: 1.0,
    Fault.CONDENSER_FOULING: 1.0,
    Fault.OUTDOOR_FAN_FAILURE: 1.3,
    Fault.DIRTY_FILTER: 1.0,
    Fault.COMPRESSOR_WEAR: 1.5,
    Fault.SENSOR_FAULT: 1.0,
    Fault.BEARING_WEAR: 1.8,
    Fault.DRAIN_PUMP_CLOG: 1.5,
    Fault.INLET_VALVE_RESTRICTION: 1.3,
    Fault.HEATER_FAILURE: 1.2,
    Fault.MOTOR_BELT_SLIP: 1.4,
    Fault.SUSPENSION_WEAR: 1.4,
}

AC_SENSORS = (
    "room_temp_c",
    "indoor_coil_temp_c",
    "outdoor_coil_temp_c",
    "suction_temp_c",
    "discharge_temp_c",
)
WASHER_SENSORS = ("water_temp_c", "water_level_mm")


@dataclass
class FaultPlan:
    """One injected fault on one device (index into the fleet); ``notice_s`` is filled in."""

    device: int
    fault: Fault
    onset_s: float
    ramp_s: float
    severity: float
    sudden: bool = False
    #: For sensor faults: which reading, and "stuck" or "drift".
    sensor: str | None = None
    sensor_mode: str | None = None
    #: For outdoor fan failure: seconds after onset at which the faded motor finally stalls.
    notice_s: float | None = None
    notice_code: str | None = None

    def level(self, t_s: float) -> float:
        """Degradation at ``t_s`` in 0..severity."""
        if t_s < self.onset_s:
            return 0.0
        if self.sudden:
            return self.severity
        frac = min(1.0, (t_s - self.onset_s) / self.ramp_s)
        return round(self.severity * float(frac ** _PROGRESSION_EXPONENT[self.fault]), 12)

    def attributable(self, t_s: float, code: str) -> bool:
        """Whether an error ``code`` at ``t_s`` is this fault showing (see :meth:`notice`)."""
        if t_s < self.onset_s:
            return False
        if self.fault is Fault.SENSOR_FAULT:
            return code in SENSOR_CODES  # a bad thermistor has no physical consequence
        if code in SPECIFIC_CODES.get(self.fault, ()):
            return True  # the fault's own protection tripped
        return self.sudden or self.level(t_s) >= NOTICE_MIN_LEVEL

    def notice(self, t_s: float, code: str) -> bool:
        """Record the first customer-visible moment caused by this fault; True if it is new.

        The fault's own protection (say ``E4`` refrigerant shortage for a leak) counts at
        any level. A general symptom (the room not reaching the setpoint, a discharge
        trip) while the fault is still negligible (below :data:`NOTICE_MIN_LEVEL` of its
        scale) is the weather's or the household's doing: a marginal unit can fall behind
        on the hottest afternoon whether or not it is degrading.
        """
        if self.notice_s is not None or not self.attributable(t_s, code):
            return False
        self.notice_s = t_s
        self.notice_code = code
        return True


@dataclass(frozen=True, slots=True)
class FaultTruth:
    """Ground truth for one injected fault, as evaluation reads it.

    ``notice_at`` is the moment the customer noticed (the appliance published its
    ``error`` event); ``None`` when the fault never became visible within the run.
    """

    device_id: str
    kind: Kind
    brand: str
    model: str
    fault: Fault
    onset_at: datetime
    notice_at: datetime | None
    sudden: bool
    severity: float
    ramp_days: float
    notice_code: str | None = None
    detail: str | None = None

    def level_at(self, when: datetime) -> float:
        """The fault's degradation (0..severity) at ``when``, as the simulator applied it."""
        t = when.timestamp()
        onset = self.onset_at.timestamp()
        if t < onset:
            return 0.0
        if self.sudden:
            return self.severity
        frac = min(1.0, (t - onset) / (self.ramp_days * DAY_S))
        return self.severity * float(frac ** _PROGRESSION_EXPONENT[self.fault])

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FaultTruth:
        """Read back one line written by :meth:`to_json`."""
        notice = raw.get("notice_at")
        return cls(
            device_id=raw["device_id"],
            kind=Kind(raw["kind"]),
            brand=raw["brand"],
            model=raw["model"],
            fault=Fault(raw["fault"]),
            onset_at=_parse_iso(raw["onset_at"]),
            notice_at=_parse_iso(notice) if notice else None,
            sudden=bool(raw["sudden"]),
            severity=float(raw["severity"]),
            ramp_days=float(raw["ramp_days"]),
            notice_code=raw.get("notice_code"),
            detail=raw.get("detail"),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 ``Z`` strings)."""
        return {
            "device_id": self.device_id,
            "kind": self.kind.value,
            "brand": self.brand,
            "model": self.model,
            "fault": self.fault.value,
            "onset_at": _iso(self.onset_at),
            "notice_at": _iso(self.notice_at) if self.notice_at else None,
            "sudden": self.sudden,
            "severity": round(self.severity, 3),
            "ramp_days": round(self.ramp_days, 2),
            "notice_code": self.notice_code,
            "detail": self.detail,
        }


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def draw_plan(
    rng: np.random.Generator,
    device: int,
    kind: Kind,
    fault: Fault,
    onset_s: float,
    *,
    ramp_days: float | None = None,
    severity: float | None = None,
    sudden: bool | None = None,
    sensor: str | None = None,
    sensor_mode: str | None = None,
    variation: float = 0.0,
) -> FaultPlan:
    """A fault with its unit-specific progression; explicit arguments override the draw.

    ``variation`` (the fleet's physics variation) widens the drawn severity and ramp:
    milder faults, and faster or slower ones, than the nominal fleet's.
    """
    if fault not in FAULTS_BY_KIND[kind]:
        raise ValueError(f"{fault.value} is not a {kind.value} fault")
    draw_sudden = bool(rng.random() < SUDDEN_VARIANTS.get(fault, 0.0))
    draw_ramp = stretch_ramp_days(float(rng.uniform(14.0, 36.0)), variation)
    draw_severity = stretch_severity(float(rng.uniform(0.75, 1.0)), variation)
    sensors = AC_SENSORS if kind is Kind.AC else WASHER_SENSORS
    draw_sensor = str(rng.choice(sensors))
    is_sudden = draw_sudden if sudden is None else sudden
    mode = sensor_mode or ("stuck" if is_sudden else "drift")
    plan = FaultPlan(
        device=device,
        fault=fault,
        onset_s=onset_s,
        ramp_s=(ramp_days if ramp_days is not None else draw_ramp) * DAY_S,
        severity=min(1.0, max(0.05, severity if severity is not None else draw_severity)),
        sudden=is_sudden,
    )
    if fault is Fault.SENSOR_FAULT:
        plan.sensor = sensor or draw_sensor
        plan.sensor_mode = mode
    return plan
