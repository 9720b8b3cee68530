"""The console script as a user meets it: real subprocesses, real exit codes, real stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port

HOUSECALL = Path(sys.executable).parent / "housecall"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOUSECALL), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("gateway", "edge", "simulate", "evaluate", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args",
    [("gatewya",), ("simulate", "--no-such-flag"), ("simulate", "--devices", "many")],
)
def test_a_mistyped_command_or_flag_gets_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("housecall: error: ")
    assert "Traceback" not in result.stderr


def test_a_bad_setting_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(HOUSECALL), "gateway"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "HOUSECALL_API_PORT": "not-a-port"},
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]]
    assert lines[0].startswith("housecall: error: HOUSECALL_API_PORT: ")


def test_a_broken_policy_file_gets_one_line_naming_file_and_line(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("[brands.Aurora]\ncall_out = 'free'\n[[[broken\n")
    result = subprocess.run(
        [str(HOUSECALL), "gateway", "--api-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "HOUSECALL_PRICE_LIST": str(prices)},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"housecall: error: {prices}:3"), result.stderr
    assert "Traceback" not in result.stderr
