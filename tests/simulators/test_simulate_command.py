"""``housecall simulate`` as a user runs it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from edge.contract import parse_message
from housecall.cli import main
from simulators.faults import FaultTruth
from simulators.fleet import SimMessage
from simulators.publish import read_jsonl, read_truth
from tests.servers import Mosquitto

HOUSECALL = Path(sys.executable).parent / "housecall"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOUSECALL_MQTT_URL"}
    return subprocess.run(
        [str(HOUSECALL), "simulate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.slow
def test_simulate_writes_messages_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "fleet.jsonl"
    truth = tmp_path / "truth.jsonl"
    scenario = tmp_path / "s.toml"
    scenario.write_text('explicit_only = true\n[[fault]]\ndevice = 0\nfault = "bearing_wear"\n')
    result = run(
        "--devices", "8", "--days", "2", "--seed", "3", "--ac-share", "0",
        "--scenario", str(scenario), "--out", str(out), "--truth", str(truth),
        "--start", "2026-01-10",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "faults injected" in result.stderr
    messages = list(read_jsonl(out))
    assert messages
    assert all(m.device_id.startswith("wm-") for m in messages)
    assert messages[0].ts.date().isoformat() == "2026-01-10"
    for m in messages[:2000]:
        parse_message(m.topic, m.payload)
    (only,) = read_truth(truth)
    assert isinstance(only, FaultTruth)
    assert only.device_id == "wm-000000"
    assert orjson.loads(truth.read_bytes())["fault"] == "bearing_wear"


@pytest.mark.slow
def test_simulate_publishes_to_a_broker(mosquitto: Mosquitto, tmp_path: Path) -> None:
    result = run("--devices", "4", "--days", "0.2", "--mqtt-url", mosquitto.url)
    assert result.returncode == 0, result.stderr
    assert "acknowledged" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--devices", "3"), "--mqtt-url"),
        (("--out", "x", "--mqtt-url", "mqtt://h"), "not both"),
        (("--out", "x", "--start", "June"), "--start"),
        (("--out", "x", "--ac-interval", "5"), "--ac-interval"),
        (("--out", "x", "--physics-variation", "1.01"), "--physics-variation"),
        (("--out", "x", "--physics-variation", "-0.5"), "--physics-variation"),
        (("--out", "x", "--physics-variation", "wide"), "--physics-variation"),
        (("--mqtt-url", "http://h", "--days", "0.1"), "mqtt://"),
        (("--out", "x", "--scenario", "/no/such.toml"), "cannot read scenario"),
        (("--mqtt-url", "mqtt://127.0.0.1:1", "--days", "0.1"), "cannot reach"),
    ],
)
def test_bad_flags_get_one_line_and_exit_2(
    args: tuple[str, ...],
    fragment: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In-process through the console script's own entry point (a subprocess per case
    # costs seconds of imports on a loaded machine; the file run above covers that path).
    monkeypatch.delenv("HOUSECALL_MQTT_URL", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert fragment in lines[0]


def test_a_broken_scenario_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('[[fault]]\ndevice = 0\nfault = "gremlins"\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", str(tmp_path / "x.jsonl"), "--scenario", str(scenario)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown fault 'gremlins'" in err
    assert len(err.strip().splitlines()) == 1


def test_physics_variation_changes_the_appliances_not_the_fleet(tmp_path: Path) -> None:
    """The same seed at variation 0 and 1: the same devices and birth messages, the ACs
    reporting at the same moments, other physics in the readings."""

    def fleet(variation: str) -> list[SimMessage]:
        out = tmp_path / f"v{variation}.jsonl"
        main(
            [
                "simulate", "--devices", "4", "--days", "0.1", "--seed", "3",
                "--out", str(out), "--physics-variation", variation,
            ]
        )  # fmt: skip
        return list(read_jsonl(out))

    nominal, varied = fleet("0"), fleet("1")
    births = [m.payload for m in nominal if m.topic.endswith("/birth")]
    assert births == [m.payload for m in varied if m.topic.endswith("/birth")]

    def ac_clock(messages: list[SimMessage]) -> list[tuple[str, float]]:
        return [(m.topic, m.epoch_s) for m in messages if m.device_id.startswith("ac-")]

    assert ac_clock(nominal) == ac_clock(varied)
    assert [m.payload for m in nominal] != [m.payload for m in varied]
