"""An appliance's own error code, when it names the failed part, is a diagnosis too.

An ``error`` event means the customer has already noticed; if the detectors had not
opened an order yet (a sudden fault: a fan motor that locks at once trips the unit
within a minute of running), the code's text still gives a pre-diagnosed order at once.
Only texts that name one fault unambiguously are mapped; "high pressure protection"
(fouled coil or weak fan?) or "excessive vibration" (bearings or dampers?) are left to
the residual diagnosis.

>>> error_fault(Kind.AC, "outdoor fan motor locked")
<Fault.OUTDOOR_FAN_FAILURE: 'outdoor_fan_failure'>
>>> error_fault(Kind.WASHER, "drain timeout")
<Fault.DRAIN_PUMP_CLOG: 'drain_pump_clog'>
>>> error_fault(Kind.AC, "high pressure protection") is None
True
"""

from __future__ import annotations

from edge.contract import Fault, Kind

#: (all words that must appear, fault), first match wins.
_RULES: dict[Kind, tuple[tuple[tuple[str, ...], Fault], ...]] = {
    Kind.AC: (
        (("fan", "lock"), Fault.OUTDOOR_FAN_FAILURE),
        (("fan", "motor"), Fault.OUTDOOR_FAN_FAILURE),
        (("thermistor",), Fault.SENSOR_FAULT),
        (("sensor",), Fault.SENSOR_FAULT),
        (("refrigerant",), Fault.REFRIGERANT_LEAK),
        (("compressor", "overload"), Fault.COMPRESSOR_WEAR),
    ),
    Kind.WASHER: (
        (("probe",), Fault.SENSOR_FAULT),
        (("sensor",), Fault.SENSOR_FAULT),
        (("drain",), Fault.DRAIN_PUMP_CLOG),
        (("fill",), Fault.INLET_VALVE_RESTRICTION),
        (("heating",), Fault.HEATER_FAILURE),
        (("speed", "not reached"), Fault.MOTOR_BELT_SLIP),
    ),
}


def error_fault(kind: Kind, text: str | None) -> Fault | None:
    """The fault an error text names without doubt, if any."""
    if not text:
        return None
    lowered = text.lower()
    for words, fault in _RULES.get(kind, ()):
        if all(word in lowered for word in words):
            return fault
    return None
