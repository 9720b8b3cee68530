"""Run a small simulated fleet through the detector (shared by the fleet tests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from detectors.api import Finding, Recovery, Signal
from detectors.fleet import DetectorConfig, HousecallDetector
from edge.contract import Birth, EventBase, Fault, Kind, Telemetry, parse_message
from simulators.fleet import FleetConfig, FleetRun
from simulators.scenario import Scenario


def small_fleet_config() -> DetectorConfig:
    """The shipped thresholds, with cohort maturity scaled to a fleet of a few dozen units.

    A 40-unit fleet has about five units per AC model and six per washer model, so its
    cohorts see in days what a real fleet's see in hours; only the warm-up counts change.
    """
    base = DetectorConfig()
    tuning = dict(base.tuning)
    tuning[Kind.AC] = replace(tuning[Kind.AC], cohort_min=120, warm_windows=16)
    tuning[Kind.WASHER] = replace(tuning[Kind.WASHER], cohort_min=10, warm_windows=3)
    return DetectorConfig(tuning=tuning)


@dataclass
class Outcome:
    findings: list[Finding]
    recoveries: list[Recovery]
    run: FleetRun


def messages(config: FleetConfig) -> tuple[FleetRun, Iterator[Birth | Telemetry | EventBase]]:
    run = FleetRun(config)

    def parsed() -> Iterator[Birth | Telemetry | EventBase]:
        for message in run.messages():
            payload = parse_message(message.topic, message.payload).payload
            if isinstance(payload, Birth | Telemetry | EventBase):
                yield payload

    return run, parsed()


def birth(device_id: str, kind: str, model: str = "M", brand: str = "A") -> Birth:
    """A contract birth message for one unit (born 2026-06-01)."""
    return Birth.model_validate(
        {
            "schema": "housecall.birth/1",
            "device_id": device_id,
            "kind": kind,
            "brand": brand,
            "model": model,
            "ts": "2026-06-01T00:00:00Z",
        },
        strict=False,
    )


def telemetry(device_id: str, seq: int, ts: datetime, readings: dict[str, object]) -> Telemetry:
    """A contract telemetry message of ``readings``."""
    return Telemetry.model_validate(
        {
            "schema": "housecall.telemetry/1",
            "device_id": device_id,
            "seq": seq,
            "ts": ts.isoformat(),
            "readings": readings,
        },
        strict=False,
    )


def cycle_end(device_id: str, ts: datetime, summary: dict[str, object]) -> EventBase:
    """A washer's ``cycle_end`` event with this summary, parsed as the gateway parses it."""
    event = {
        "schema": "housecall.event/1",
        "device_id": device_id,
        "seq": 1,
        "ts": ts.isoformat(),
        "type": "cycle_end",
        "data": summary,
    }
    message = parse_message(f"appliances/{device_id}/events", orjson.dumps(event)).payload
    assert isinstance(message, EventBase)
    return message


def record_judged(detector: HousecallDetector) -> list[list[float]]:
    """Replace the detector's judging by a recorder of the signals ``y`` of every window.

    For tests of how readings become signals: what the cohort would then make of them
    is tested elsewhere.
    """
    judged: list[list[float]] = []

    def score_window(**window: Any) -> list[object]:
        judged.append(list(window["y"]))
        return []

    detector.judge.score_window = score_window  # type: ignore[method-assign, assignment]
    return judged


def feed(detector: HousecallDetector, message: Birth | Telemetry | EventBase) -> list[Signal]:
    if isinstance(message, Birth):
        detector.on_birth(message)
        return []
    if isinstance(message, Telemetry):
        return list(detector.on_telemetry(message))
    return list(detector.on_event(message))


def run_fleet(config: FleetConfig, detector: HousecallDetector) -> Outcome:
    run, stream = messages(config)
    findings: list[Finding] = []
    recoveries: list[Recovery] = []
    for message in stream:
        for signal in feed(detector, message):
            (findings if isinstance(signal, Finding) else recoveries).append(signal)  # type: ignore[arg-type]
    return Outcome(findings, recoveries, run)


def scenario_with(faults: Iterable[tuple[int, Fault, dict[str, object]]]) -> Scenario:
    lines = ["explicit_only = true"]
    for device, fault, extra in faults:
        lines += ["[[fault]]", f"device = {device}", f'fault = "{fault.value}"']
        lines += [f"{key} = {_toml(value)}" for key, value in extra.items()]
    return Scenario.from_toml_text("\n".join(lines))


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
