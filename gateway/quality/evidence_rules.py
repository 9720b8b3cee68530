"""Does the telemetry back the root cause a technician recorded? One rule per fault.

Each fault has KEY signals: the derived signals that, by the fault-signature table
(shared domain note, coded in :mod:`detectors.signatures`), must move, and which way.
A refrigerant leak raises superheat and opens the expansion valve; a fouled condenser
raises the condensing approach; a worn bearing raises spin vibration and kurtosis...

The evidence is what the detectors put in the orders of that device: each evidence
snapshot lists the signals that moved MOST (baseline beside observed), so a key signal
absent from a non-empty snapshot did not move much. A recorded root cause is:

- ``consistent`` when some snapshot shows one of its key signals moved its way by more
  than the signal's tolerance;
- ``contradicted`` when there are snapshots from before (and after, if any) the visit
  and none shows that, e.g. ``refrigerant_leak`` on a unit whose refrigerant-side
  signals stayed normal before and after;
- ``undetermined`` with no evidence, or for a fault with no physical key signal
  (``sensor_fault``: by definition nothing else moves).

>>> before = [[{"signal": "condensing_approach_k", "baseline": 12.0, "observed": 19.0},
...            {"signal": "superheat_k", "baseline": 5.0, "observed": 4.6}]]
>>> judge("ac", "refrigerant_leak", before).verdict
'contradicted'
>>> judge("ac", "condenser_fouling", before).verdict
'consistent'
>>> judge("ac", "sensor_fault", before).verdict
'undetermined'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    for snapshot in filled:
        for item in snapshot:
            signal = str(item.get("signal"))
            if signal not in keys:
                continue
            try:
                baseline, observed = float(item["baseline"]), float(item["observed"])
            except (KeyError, TypeError, ValueError):
                continue
            if moved(signal, baseline, observed, keys[signal]):
                return Judgement(
                    CONSISTENT, f"{signal} moved from {baseline:g} to {observed:g} as {root_cause}"
                )
            seen.append(f"{signal} {baseline:g}->{observed:g}")
    names = ", ".join(keys)
    shown = f" (seen: {'; '.join(seen)})" if seen else ""
    return Judgement(
        CONTRADICTED,
        f"{root_cause} recorded, but its key signals ({names}) stayed normal in the "
        f"{len(filled)} evidence snapshot(s) before and after the visit{shown}",
    )
