"""``housecall demo`` runs the whole loop to its summary (a smaller fleet, no serving)."""

from __future__ import annotations

import os
import subprocess
import sys
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
