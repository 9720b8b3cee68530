"""Detector cost per message and state per device, over 10,000 simulated devices.

    .venv/bin/python -m benchmarks.detector_speed [--devices 10000] [--hours 12]

A small seeded fleet is simulated and parsed once; its devices are cloned under new ids
until the fleet has ``--devices`` units, and every message is replayed to each clone in
device-time order (so cohorts and devices interleave as in production). Only the
detector calls are timed (parsing and cloning are not). State per device is measured
two ways: the serialised snapshot (what a checkpoint stores) and the memory the restored
states of all devices take in Python (tracemalloc).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections.abc import Sequence

from detectors.fleet import LAYOUTS, HousecallDetector
from detectors.state import DeviceState
from edge.contract import Birth, EventBase, Telemetry, parse_message
from simulators.fleet import FleetConfig, FleetRun

TEMPLATE_DEVICES = 50


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Measure, print, and return the figures (µs per message, state bytes per device)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    clones = max(1, args.devices // TEMPLATE_DEVICES)
    run = FleetRun(FleetConfig(devices=TEMPLATE_DEVICES, days=args.hours / 24, seed=args.seed))
    template: list[Birth | Telemetry | EventBase] = []
    for sim in run.messages():
        payload = parse_message(sim.topic, sim.payload).payload
        if isinstance(payload, Birth | Telemetry | EventBase):
            template.append(payload)
    detector = HousecallDetector()
    gc.collect()
    gc.freeze()
    timed = 0
    elapsed = 0.0
    for message in template:
        ids = [f"{message.device_id}-{c:04d}" for c in range(clones)]
        if isinstance(message, Birth):
            for device_id in ids:
                detector.on_birth(message.model_copy(update={"device_id": device_id}))
            continue
        if isinstance(message, Telemetry):
            samples = [message.model_copy(update={"device_id": d}) for d in ids]
            started = time.perf_counter()
            for sample in samples:
                detector.on_telemetry(sample)
        else:
            events = [message.model_copy(update={"device_id": d}) for d in ids]
            started = time.perf_counter()
            for event in events:
                detector.on_event(event)
        elapsed += time.perf_counter() - started
        timed += len(ids)
    device_ids = list(detector.devices)
    snapshots = [detector.snapshot(d) or b"" for d in device_ids]
    sizes = [len(s) for s in snapshots]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    restored = {
        d: DeviceState.from_bytes(s, LAYOUTS) for d, s in zip(device_ids, snapshots, strict=True)
    }
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    in_memory = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(
        f"devices: {len(device_ids)} ({TEMPLATE_DEVICES} simulated x {clones} clones), "
        f"{args.hours:g} h of device time"
    )
    print(
        f"detector update: {elapsed / timed * 1e6:.2f} µs per message (mean over {timed:,} "
        f"telemetry/event messages)   target <= 20 µs"
    )
    print(
        f"state per device, serialised snapshot: mean {statistics.mean(sizes):.0f} B, "
        f"max {max(sizes)} B   target <= 8192 B"
    )
    print(
        f"state per device in memory (tracemalloc, restored states incl. dict entry): "
        f"{in_memory / len(restored):.0f} B"
    )
    return {
        "devices": float(len(device_ids)),
        "us_per_message": elapsed / timed * 1e6,
        "state_mean_bytes": statistics.mean(sizes),
        "state_max_bytes": float(max(sizes)),
        "state_memory_bytes": in_memory / len(restored),
    }


if __name__ == "__main__":
    main()
