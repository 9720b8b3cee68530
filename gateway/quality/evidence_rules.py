"""Does the telemetry back the root cause a technician recorded? One rule per fault.

Each fault has KEY signals: the derived signals that, by the fault-signature table
(shared domain note, coded in :mod:`detectors.signatures`), must move, and which way.
A refrigerant leak raises superheat and opens the expansion valve; a fouled condenser
raises the condensing approach; a worn bearing raises spin vibration and kurtosis...

The evidence is what the detectors put in the orders of that device: each evidence
snapshot lists the signals that moved MOST (baseline beside observed), so a key signal
absent from a non-empty snapshot did not move much. An order opened from the
appliance's own error code carries that event instead (``error E21: drain timeout``,
unit ``event``): the code names a fault (:func:`detectors.errors.error_fault`), or none.
A recorded root cause is:

- ``consistent`` when some snapshot shows one of its key signals moved its way by more
  than the signal's tolerance, or the appliance's error code names that very fault;
- ``contradicted`` when the evidence points ELSEWHERE and never its way: another
  signal moved beyond its tolerance (or a key signal moved against it), or an error
  code names another fault, e.g. ``refrigerant_leak`` on a unit whose condensing
  approach rose while its refrigerant-side signals stayed normal before and after;
- ``undetermined`` with no evidence, with evidence that points nowhere (an error code
  that names no fault, signals all within tolerance), or for a fault with no physical
  key signal (``sensor_fault``: by definition nothing else moves).

Only evidence that points elsewhere contradicts: an honest technician who confirms the
fault the appliance itself reported must not lose dispatch weight for it (issue 31).

>>> before = [[{"signal": "condensing_approach_k", "baseline": 12.0, "observed": 19.0},
...            {"signal": "superheat_k", "baseline": 5.0, "observed": 4.6}]]
>>> judge("ac", "refrigerant_leak", before).verdict
'contradicted'
>>> judge("ac", "condenser_fouling", before).verdict
'consistent'
>>> judge("ac", "sensor_fault", before).verdict
'undetermined'
>>> e21 = [[{"signal": "error E21: drain timeout", "baseline": 0, "observed": 1, "unit": "event"}]]
>>> judge("washer", "drain_pump_clog", e21).verdict
'consistent'
>>> judge("washer", "heater_failure", e21).verdict
'contradicted'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detectors.errors import error_fault
from edge.contract import Kind

CONSISTENT, CONTRADICTED, UNDETERMINED = "consistent", "contradicted", "undetermined"
EITHER = 0

#: (kind, fault) -> {signal: +1 up | -1 down | 0 either way}. From the signature table.
KEY_SIGNALS: dict[tuple[str, str], dict[str, int]] = {
    ("ac", "refrigerant_leak"): {"superheat_k": +1, "eev_steps": +1},
    ("ac", "condenser_fouling"): {"condensing_approach_k": +1},
    ("ac", "outdoor_fan_failure"): {"outdoor_fan_rpm": -1, "condensing_approach_k": +1},
    ("ac", "dirty_filter"): {
        "evaporator_approach_k": +1,
        "indoor_fan_rpm": +1,
        "air_delta_t_k": +1,
    },
    ("ac", "compressor_wear"): {"current_per_hz_a": -1, "capacity_per_hz": -1},
    ("washer", "bearing_wear"): {"spin_vibration_g": +1, "x_vibration_kurtosis": +1},
    ("washer", "drain_pump_clog"): {"drain_time_s": +1, "drain_pump_current_a": EITHER},
    ("washer", "inlet_valve_restriction"): {"fill_time_per_litre": +1, "fill_time_s": +1},
    ("washer", "heater_failure"): {"heat_ramp_k_per_min": -1, "heater_power_w": -1},
    ("washer", "motor_belt_slip"): {"rpm_shortfall": +1, "max_spin_rpm": -1},
    ("washer", "suspension_wear"): {"low_spin_vibration_g": +1, "unbalance_retries": +1},
}

#: signal -> (absolute, relative) tolerance: a move inside max(abs, rel * |baseline|) is noise.
TOLERANCE: dict[str, tuple[float, float]] = {
    "superheat_k": (1.5, 0.0),
    "eev_steps": (20.0, 0.0),
    "condensing_approach_k": (1.5, 0.0),
    "evaporator_approach_k": (1.5, 0.0),
    "air_delta_t_k": (1.0, 0.0),
    "outdoor_fan_rpm": (60.0, 0.05),
    "indoor_fan_rpm": (50.0, 0.05),
    "current_per_hz_a": (0.005, 0.05),
    "capacity_per_hz": (0.005, 0.05),
    "spin_vibration_g": (0.03, 0.15),
    "low_spin_vibration_g": (0.03, 0.15),
    "x_vibration_kurtosis": (0.3, 0.1),
    "drain_time_s": (3.0, 0.15),
    "drain_pump_current_a": (0.03, 0.1),
    "fill_time_s": (5.0, 0.15),
    "fill_time_per_litre": (0.1, 0.15),
    "heat_ramp_k_per_min": (0.05, 0.15),
    "heater_power_w": (150.0, 0.0),
    "rpm_shortfall": (0.01, 0.0),
    "max_spin_rpm": (40.0, 0.0),
    "unbalance_retries": (0.9, 0.0),
}


@dataclass(frozen=True)
class Judgement:
    verdict: str
    reason: str


def moved(signal: str, baseline: float, observed: float, direction: int) -> bool:
    """Did ``signal`` move beyond its tolerance, in ``direction`` (0: either way)?"""
    absolute, relative = TOLERANCE.get(signal, (0.0, 0.1))
    change = observed - baseline
    if abs(change) <= max(absolute, relative * abs(baseline)):
        return False
    return direction == EITHER or (change > 0) == (direction > 0)


def is_error_event(item: dict[str, Any]) -> bool:
    """Is this evidence item the appliance's own error event (``error <code>: <text>``)?"""
    return item.get("unit") == "event" and str(item.get("signal") or "").startswith("error ")


def error_named(kind: str, item: dict[str, Any]) -> str | None:
    """The fault an error event's text names without doubt, or None."""
    _, _, text = str(item.get("signal") or "").partition(": ")
    try:
        fault = error_fault(Kind(kind), text)
    except ValueError:  # not a kind the detectors know
        return None
    return None if fault is None else str(fault)


def judge(kind: str, root_cause: str, snapshots: Sequence[Sequence[dict[str, Any]]]) -> Judgement:
    """Verdict on ``root_cause`` from evidence snapshots (before and after the visit)."""
    keys = KEY_SIGNALS.get((kind, root_cause))
    if not keys:
        return Judgement(UNDETERMINED, f"no telemetry rule for {kind} {root_cause}")
    filled: list[Sequence[dict[str, Any]]] = []
    for snapshot in snapshots:  # the same evidence recorded twice is one snapshot
        if snapshot and snapshot not in filled:
            filled.append(snapshot)
    if not filled:
        return Judgement(UNDETERMINED, "no telemetry evidence recorded around the visit")
    seen: list[str] = []
    elsewhere: list[str] = []  # what points away from the root cause
    for snapshot in filled:
        for item in snapshot:
            signal = str(item.get("signal"))
            if is_error_event(item):
                named = error_named(kind, item)
                if named == root_cause:
                    return Judgement(
                        CONSISTENT, f"the appliance reported {signal}, which names {root_cause}"
                    )
                if named is not None:
                    elsewhere.append(f"{signal} names {named}")
                continue
            try:
                baseline, observed = float(item["baseline"]), float(item["observed"])
            except (KeyError, TypeError, ValueError):
                continue
            if signal not in keys:
                if moved(signal, baseline, observed, EITHER):
                    elsewhere.append(f"{signal} {baseline:g}->{observed:g}")
                continue
            if moved(signal, baseline, observed, keys[signal]):
                return Judgement(
                    CONSISTENT, f"{signal} moved from {baseline:g} to {observed:g} as {root_cause}"
                )
            if moved(signal, baseline, observed, EITHER):  # the wrong way
                elsewhere.append(f"{signal} {baseline:g}->{observed:g}")
            seen.append(f"{signal} {baseline:g}->{observed:g}")
    names = ", ".join(keys)
    if not elsewhere:
        return Judgement(
            UNDETERMINED,
            f"the {len(filled)} evidence snapshot(s) around the visit point to no other fault",
        )
    shown = f" (seen: {'; '.join(seen)})" if seen else ""
    return Judgement(
        CONTRADICTED,
        f"{root_cause} recorded, but its key signals ({names}) stayed normal in the "
        f"{len(filled)} evidence snapshot(s) before and after the visit{shown}, while the "
        f"evidence points elsewhere: {'; '.join(elsewhere[:3])}",
    )
