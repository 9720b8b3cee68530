"""``housecall gateway`` as a user runs it: a subprocess, embedded defaults, SIGTERM to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.gateway.helpers import wait_until
from tests.servers import free_port

HOUSECALL = Path(sys.executable).parent / "housecall"


@pytest.mark.slow
def test_gateway_runs_with_nothing_configured_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUSECALL_")}
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen(
        [str(HOUSECALL), "gateway", "--api-port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(healthy, 60), (tmp_path / "gateway.log").read_text()
        body = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert body["mqtt"].startswith("mqtt://127.0.0.1:")
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/devices").json()["items"] == []
        assert (tmp_path / "housecall.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
        log.close()
    assert code == 0, (tmp_path / "gateway.log").read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--api-port", "0"], "--api-port: "),
        (["--mqtt-url", "http://x"], "--mqtt-url: "),
        (["--database-url", "mysql://x"], "--database-url: "),
        (["--detector", "no.such.module:Thing"], "--detector "),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    result = subprocess.run(
        [str(HOUSECALL), "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"housecall: error: {expected}")


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    port = free_port()  # nobody listens there
    result = subprocess.run(
        [
            str(HOUSECALL),
            "gateway",
            "--database-url",
            f"postgresql://nobody@127.0.0.1:{port}/none",
            "--mqtt-url",
            f"mqtt://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("housecall: error: cannot use the database ")


def test_the_gateway_runs_the_housecall_detectors_unless_told_none() -> None:
    from detectors.fleet import HousecallDetector
    from housecall.commands.gateway import DEFAULT_DETECTOR, load_detector

    assert isinstance(load_detector(DEFAULT_DETECTOR), HousecallDetector)
    assert load_detector("none") is None
