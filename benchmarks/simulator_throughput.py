"""Simulator throughput on one core, no publishing: telemetry samples generated per second.

Prints two figures measured in this run: physics only (``encode=False``, what
``ground_truth`` costs) and physics plus the exact contract JSON payloads (what
``simulate`` and ``--out`` cost). The issue's target is >= 50,000 samples/s.

    .venv/bin/python benchmarks/simulator_throughput.py [--devices 500] [--days 2]
        [--ac-interval 60]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

from simulators.fleet import FleetConfig, FleetRun

TARGET_SAMPLES_PER_S = 50_000


def measure(config: FleetConfig, *, encode: bool) -> tuple[int, float]:
    run = FleetRun(config)
    started = time.process_time()
    for _ in run.messages(encode=encode):
        pass
    elapsed = time.process_time() - started
    return run.stats.telemetry, elapsed


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Measure, print, and return the figures (samples/s physics only and with JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--ac-interval", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args, _ = parser.parse_known_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    config = FleetConfig(
        devices=args.devices, days=args.days, seed=args.seed, ac_interval_s=args.ac_interval
    )
    print(
        f"fleet: {args.devices} devices, {args.days:g} days, AC every {args.ac_interval} s,"
        " one core, CPU time"
    )
    figures: dict[str, float] = {}
    for label, encode in (("physics only", False), ("physics + contract JSON", True)):
        samples, cpu_s = measure(config, encode=encode)
        rate = samples / cpu_s
        figures["json_samples_per_s" if encode else "physics_samples_per_s"] = rate
        verdict = "ok" if rate >= TARGET_SAMPLES_PER_S else "BELOW TARGET"
        print(
            f"{label:>24}: {samples:,} samples in {cpu_s:.2f} s CPU"
            f" = {rate:,.0f} samples/s ({verdict})"
        )
    return figures


if __name__ == "__main__":
    main()
