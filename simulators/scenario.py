"""Scenario files: which devices get which faults when, and which confounders run.

A scenario is a small TOML file; everything in it is optional, and what is left
out comes from the seeded default mix. Example::

    fault_rate = 0.3          # share of devices that get one fault (default mix)
    ac_share = 0.6            # overrides --ac-share when given

    [mix]                     # relative weights of faults in the default mix
    refrigerant_leak = 2.0
    bearing_wear = 1.0

    [confounders]
    heat_waves = true
    cold_snaps = true
    power_cuts_per_month = 1.0   # per region
    windows_per_week = 1.0       # per AC
    glitch_rate = 0.0005         # one-sample sensor glitches per reading
    unbalanced_share = 0.08      # washer loads that are unbalanced
    new_unit_share = 0.1         # units installed during the last weeks

    [[fault]]                 # explicit injections (replace the default mix for that device)
    device = 3                # index in the fleet, or "ac-000003"
    fault = "refrigerant_leak"
    onset_day = 4.0           # days after the start
    ramp_days = 21.0          # optional: weeks to full severity
    severity = 0.9            # optional: 0..1
    sudden = false            # optional
    sensor = "suction_temp_c" # sensor faults only (optional)
    sensor_mode = "stuck"     # "stuck" or "drift" (optional)

>>> text = 'fault_rate = 0.5\\n[[fault]]\\ndevice = 2\\nfault = "dirty_filter"\\nonset_day = 1'
>>> s = Scenario.from_toml_text(text)
>>> s.fault_rate, s.faults[0].fault.value, s.faults[0].device
(0.5, 'dirty_filter', 2)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.contract import Fault


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Confounders:
    """Things that move the readings without being faults."""

    heat_waves: bool = True
    cold_snaps: bool = True
    power_cuts_per_month: float = 1.0
    windows_per_week: float = 1.0
    glitch_rate: float = 0.0005
    unbalanced_share: float = 0.08
    new_unit_share: float = 0.1


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One explicit injection from a scenario file."""

    device: int | str
    fault: Fault
    onset_day: float
    ramp_days: float | None = None
    severity: float | None = None
    sudden: bool | None = None
    sensor: str | None = None
    sensor_mode: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """Fault mix and confounders for a fleet run."""

    fault_rate: float | None = None
    ac_share: float | None = None
    mix: dict[Fault, float] = field(default_factory=dict)
    faults: tuple[FaultSpec, ...] = ()
    confounders: Confounders = field(default_factory=Confounders)
    #: Only the explicit ``[[fault]]`` entries, no default mix (for controlled experiments).
    explicit_only: bool = False

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise ScenarioError(f"cannot read scenario {path}: {err.strerror}") from None
        return cls.from_toml_text(text, source=str(path))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "scenario") -> Scenario:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ScenarioError(f"{source}: not valid TOML ({err})") from None
        try:
            return cls._from_dict(raw)
        except (TypeError, ValueError, KeyError) as err:
            raise ScenarioError(f"{source}: {err}") from None

    @classmethod
    def _from_dict(cls, raw: dict[str, Any]) -> Scenario:
        known = {"fault_rate", "ac_share", "mix", "confounders", "fault", "explicit_only"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} (known: {sorted(known)})")
        fault_rate = _fraction(raw, "fault_rate")
        ac_share = _fraction(raw, "ac_share")
        mix = {_fault(name): float(weight) for name, weight in raw.get("mix", {}).items()}
        if any(w < 0 for w in mix.values()):
            raise ValueError("mix weights must be >= 0")
        conf_raw = dict(raw.get("confounders", {}))
        allowed = set(Confounders.__dataclass_fields__)
        if set(conf_raw) - allowed:
            raise ValueError(f"unknown confounders {sorted(set(conf_raw) - allowed)}")
        confounders = Confounders(**conf_raw)
        specs = []
        for i, item in enumerate(raw.get("fault", [])):
            if "device" not in item or "fault" not in item:
                raise ValueError(f"[[fault]] #{i + 1} needs 'device' and 'fault'")
            specs.append(
                FaultSpec(
                    device=item["device"],
                    fault=_fault(item["fault"]),
                    onset_day=float(item.get("onset_day", 1.0)),
                    ramp_days=_opt_float(item.get("ramp_days")),
                    severity=_opt_float(item.get("severity")),
                    sudden=item.get("sudden"),
                    sensor=item.get("sensor"),
                    sensor_mode=item.get("sensor_mode"),
                )
            )
        return cls(
            fault_rate=fault_rate,
            ac_share=ac_share,
            mix=mix,
            faults=tuple(specs),
            confounders=confounders,
            explicit_only=bool(raw.get("explicit_only", False)),
        )


def _fault(name: str) -> Fault:
    try:
        return Fault(name)
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown fault {name!r} (known: {known})") from None


def _fraction(raw: dict[str, Any], key: str) -> float | None:
    if key not in raw:
        return None
    value = float(raw[key])
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{key} must be between 0 and 1, got {value}")
    return value


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
