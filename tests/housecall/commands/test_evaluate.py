"""``housecall evaluate`` as a user runs it: a real subprocess on a tiny fleet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOUSECALL = Path(sys.executable).parent / "housecall"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOUSECALL), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


@pytest.mark.slow
def test_evaluate_runs_end_to_end_on_a_tiny_fleet_and_writes_the_plot(tmp_path: Path) -> None:
    png = tmp_path / "evaluation.png"
    result = run("evaluate", "--devices", "8", "--days", "1", "--seed", "3", "--png", str(png))
    assert result.returncode == 0, result.stderr
    for heading in (
        "order before notice",
        "lead med",
        "top-1",
        "precision",
        "false orders per 1,000 healthy device-days",
        "overall",
    ):
        assert heading in result.stdout
    assert "messages" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_flag_is_one_line_and_exit_2() -> None:
    result = run("evaluate", "--devices", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    bad_url = run("evaluate", "--devices", "2", "--days", "1", "--mqtt-url", "ftp://nowhere")
    assert bad_url.returncode == 2
    assert "--mqtt-url" in bad_url.stderr
    assert "Traceback" not in bad_url.stderr
