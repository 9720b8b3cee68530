"""What durable detector state costs: the journal per message, a checkpoint, the replay.

A simulated fleet goes through the real pipeline (SQLite, detectors, journal on); then:

1. journal bytes per message (written with every batch);
2. one checkpoint of every device and the fleet models: bytes per device, seconds;
3. a restart that replays the whole journal (no checkpoint): µs per replayed message,
   the figure that bounds a restart after a crash (``HOUSECALL_CHECKPOINT_MAX_JOURNAL``).

    .venv/bin/python -m benchmarks.checkpoint_replay [--devices 20] [--days 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from detectors.fleet import HousecallDetector
from gateway.checkpoints import CheckpointMetrics, DetectorCheckpointer
from gateway.db import make_engine
from gateway.pipeline import Pipeline, RawMessage
from gateway.storage import BatchStorage
from simulators.fleet import FleetConfig, simulate

BATCH = 2000


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="housecall-bench-replay-"))
    try:
        return _run(workdir, args.devices, args.days, args.seed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(workdir: Path, devices: int, days: float, seed: int) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{workdir / 'replay.db'}")
    config = FleetConfig(devices=devices, days=days, seed=seed)
    messages = [RawMessage(m.topic, m.payload, 0.0) for m in simulate(config)]
    detector = HousecallDetector()
    metrics = CheckpointMetrics()
    checkpointer = DetectorCheckpointer(
        engine, detector, scope="bench", metrics=metrics, interval_s=1e9, max_journal_messages=10**9
    )
    pipeline = Pipeline(
        BatchStorage(engine, gateway_id="bench"), detector=detector, checkpointer=checkpointer
    )
    pipeline.open()
    for start in range(0, len(messages), BATCH):
        pipeline.process(messages[start : start + BATCH])
    journal_per_message = metrics.journal_bytes._value.get() / len(messages)

    replayed = HousecallDetector()
    report = DetectorCheckpointer(engine, replayed, scope="bench").restore()
    replay_us = 1e6 * report.seconds / max(1, report.replayed_messages)

    started = time.perf_counter()
    with pipeline._lock:  # between batches, as the pipeline takes it
        checkpointer.checkpoint(wait=True)
    checkpoint_s = time.perf_counter() - started
    state_per_device = metrics.bytes_written._value.get() / max(1, len(detector.devices))
    engine.dispose()

    print(f"{len(messages):,} messages of {devices} devices x {days:g} days through the pipeline")
    print(f"  journal: {journal_per_message:.0f} B per message, written with each batch")
    print(
        f"  checkpoint of {len(detector.devices)} devices and the fleet models: "
        f"{state_per_device:.0f} B per device (fleet models included), {checkpoint_s:.2f} s"
    )
    print(
        f"  restart replaying the whole journal: {report.replayed_messages:,} messages in "
        f"{report.seconds:.2f} s, {replay_us:.1f} µs per message"
    )
    return {
        "journal_bytes_per_message": journal_per_message,
        "checkpoint_bytes_per_device": state_per_device,
        "checkpoint_seconds": checkpoint_s,
        "replay_us_per_message": replay_us,
    }


if __name__ == "__main__":
    main()
