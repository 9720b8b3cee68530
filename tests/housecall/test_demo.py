"""``housecall demo`` runs the whole loop to its summary (a smaller fleet, no serving)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_to_its_summary_and_exits(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "160", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "housecall.cli",
            "demo",
            "--devices",
            "8",
            "--days",
            "20",
            "--port",
            "0",
            "--no-serve",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "gateway up: MQTT mqtt://127.0.0.1:" in out
    assert "Injected faults (ground truth)" in out
    assert "Summary" in out
    assert "device time simulated" in out
    assert "20 days" in out
    assert "messages through the broker" in out
    assert "missing piece" not in out
    assert "API serving at" not in out  # --no-serve exits after the summary


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_demo_stops_cleanly_on_a_signal_children_and_broker_included(
    tmp_path: Path, signum: int
) -> None:
    """Ctrl-C (SIGINT to the whole group) or SIGTERM: one line, no traceback, nothing left."""
    env = {**os.environ, "COLUMNS": "160", "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "housecall.cli", "demo", "--devices", "6", "--days", "20",
         "--port", "0", "--no-serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if "gateway up:" in line:
            break
    time.sleep(3)  # publishing, storing, detecting
    if signum == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    else:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "leaked semaphore" not in stderr
    assert "housecall: error: interrupted" in stderr
    left = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert left == [], "a broker or child outlived the demo"
