"""Run a fleet and its healthy twin, and line up their telemetry by device and time.

The twin shares the seed, so weather, use and every random draw are identical;
only the injected faults differ. Comparing the two at the same timestamps is the
"healthy unit of the same model under the same conditions" of the signature table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from edge.contract import Channel
from simulators.faults import FaultTruth
from simulators.fleet import FleetConfig, FleetRun

FloatArray = NDArray[np.float64]


@dataclass
class DeviceSeries:
    """One device's telemetry as columns keyed by reading name (NaN where absent)."""

    ts: FloatArray
    columns: dict[str, FloatArray]
    modes: list[str]
    events: list[dict[str, Any]]

    def col(self, name: str) -> FloatArray:
        return self.columns.get(name, np.full(len(self.ts), np.nan))


def collect(config: FleetConfig) -> tuple[dict[str, DeviceSeries], list[FaultTruth]]:
    """Telemetry and events per device, and the run's ground truth."""
    run = FleetRun(config)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stamps: dict[str, list[float]] = defaultdict(list)
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for msg in run.messages():
        if msg.channel is Channel.TELEMETRY:
            body = orjson.loads(msg.payload)
            rows[msg.device_id].append(body["readings"])
            stamps[msg.device_id].append(msg.epoch_s)
        elif msg.channel is Channel.EVENTS:
            body = orjson.loads(msg.payload)
            events[msg.device_id].append({**body, "epoch_s": msg.epoch_s})
    out: dict[str, DeviceSeries] = {}
    for device_id, readings in rows.items():
        names = {k for r in readings for k, v in r.items() if isinstance(v, int | float)}
        columns = {
            name: np.array(
                [
                    float(r[name]) if isinstance(r.get(name), int | float) else np.nan
                    for r in readings
                ]
            )
            for name in names
        }
        modes = [str(r.get("mode", r.get("phase", ""))) for r in readings]
        out[device_id] = DeviceSeries(
            np.array(stamps[device_id]), columns, modes, events.get(device_id, [])
        )
    for device_id, evs in events.items():
        if device_id not in out:
            out[device_id] = DeviceSeries(np.empty(0), {}, [], evs)
    return out, run.truth()


def align(a: DeviceSeries, b: DeviceSeries) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Indices of samples both series have at the same timestamp."""
    _, ia, ib = np.intersect1d(a.ts, b.ts, return_indices=True)
    return ia.astype(np.int64), ib.astype(np.int64)
