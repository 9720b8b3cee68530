"""The contract's fault vocabulary (section 3) and what a technician does for each.

A work order names exactly one of these. ``sensor_fault`` exists for both kinds.

>>> Fault.REFRIGERANT_LEAK in FAULTS_BY_KIND[Kind.AC]
True
>>> sorted(f.value for f in FAULTS_BY_KIND[Kind.WASHER])[:2]
['bearing_wear', 'drain_pump_clog']
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """Appliance kinds the contract knows."""

    AC = "ac"
    WASHER = "washer"


class Fault(StrEnum):
    """Every fault a work order may name (contract version 1)."""

    REFRIGERANT_LEAK = "refrigerant_leak"
    CONDENSER_FOULING = "condenser_fouling"
    OUTDOOR_FAN_FAILURE = "outdoor_fan_failure"
    DIRTY_FILTER = "dirty_filter"
    COMPRESSOR_WEAR = "compressor_wear"
    SENSOR_FAULT = "sensor_fault"
    BEARING_WEAR = "bearing_wear"
    DRAIN_PUMP_CLOG = "drain_pump_clog"
    INLET_VALVE_RESTRICTION = "inlet_valve_restriction"
    HEATER_FAILURE = "heater_failure"
    MOTOR_BELT_SLIP = "motor_belt_slip"
    SUSPENSION_WEAR = "suspension_wear"


FAULTS_BY_KIND: dict[Kind, frozenset[Fault]] = {
    Kind.AC: frozenset(
        {
            Fault.REFRIGERANT_LEAK,
            Fault.CONDENSER_FOULING,
            Fault.OUTDOOR_FAN_FAILURE,
            Fault.DIRTY_FILTER,
            Fault.COMPRESSOR_WEAR,
            Fault.SENSOR_FAULT,
        }
    ),
    Kind.WASHER: frozenset(
        {
            Fault.BEARING_WEAR,
            Fault.DRAIN_PUMP_CLOG,
            Fault.INLET_VALVE_RESTRICTION,
            Fault.HEATER_FAILURE,
            Fault.MOTOR_BELT_SLIP,
            Fault.SUSPENSION_WEAR,
            Fault.SENSOR_FAULT,
        }
    ),
}

#: What the technician does, per (kind, fault), as the contract's table says.
TECHNICIAN_ACTION: dict[tuple[Kind, Fault], str] = {
    (Kind.AC, Fault.REFRIGERANT_LEAK): "leak search, repair, evacuate and recharge",
    (Kind.AC, Fault.CONDENSER_FOULING): "clean outdoor coil, check outdoor fan",
    (Kind.AC, Fault.OUTDOOR_FAN_FAILURE): "replace outdoor fan motor or capacitor",
    (Kind.AC, Fault.DIRTY_FILTER): "clean filters / indoor coil (customer can self-fix)",
    (Kind.AC, Fault.COMPRESSOR_WEAR): "compressor diagnosis, replacement",
    (Kind.AC, Fault.SENSOR_FAULT): "replace thermistor",
    (Kind.WASHER, Fault.BEARING_WEAR): "replace drum bearings and seal",
    (Kind.WASHER, Fault.DRAIN_PUMP_CLOG): (
        "clear or replace drain pump / filter (customer can clean the filter)"
    ),
    (Kind.WASHER, Fault.INLET_VALVE_RESTRICTION): "clean inlet screen, replace inlet valve",
    (Kind.WASHER, Fault.HEATER_FAILURE): "replace heating element / descale",
    (Kind.WASHER, Fault.MOTOR_BELT_SLIP): "replace belt, check motor brushes",
    (Kind.WASHER, Fault.SUSPENSION_WEAR): "replace dampers / springs",
    (Kind.WASHER, Fault.SENSOR_FAULT): "replace probe",
}

#: Faults the customer can safely fix first, with the notice action the contract shows.
CUSTOMER_SELF_FIX: dict[tuple[Kind, Fault], tuple[str, str]] = {
    (Kind.AC, Fault.DIRTY_FILTER): ("clean_filter", "Please clean the air filters."),
    (Kind.WASHER, Fault.DRAIN_PUMP_CLOG): (
        "clean_drain_filter",
        "Please clean the drain pump filter behind the lower front flap.",
    ),
}
