"""``housecall edge``: bad flags end as one readable line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.outbox import Outbox
from housecall.cli import main

GOOD = ["edge", "--upstream-url", "mqtt://127.0.0.1:1", "--edge-id", "home-1"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip()
    return int(exit_info.value.code or 0), err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--local-url", "http://x"], "--local-url: scheme must be mqtt:// or mqtts://"),
        (["--upstream-url", "mqtt://h:99999"], "--upstream-url: bad port"),
        (["--edge-id", "my home"], "edge id 'my home' must match"),
        (["--disk-budget-mb", "0"], "--disk-budget-mb must be positive"),
        (["--disk-budget-mb", "lots"], "Invalid value for '--disk-budget-mb'"),
        (["--outbox", "/no/such/folder/o.db"], "--outbox: folder /no/such/folder does not exist"),
        (["--replay-rate", "-5"], "replay rate must be >= 0"),
        (["--max-inflight", "0"], "max in-flight must be at least 1"),
        (["--status-interval-s", "0"], "--status-interval-s must be positive"),
    ],
)
def test_bad_flags_are_one_line_exit_2(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [*GOOD, "--outbox", str(tmp_path / "o.db"), *extra]
    code, err = run(argv, capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("housecall: error: ")
    assert message in err
    assert "Traceback" not in err


def test_missing_upstream_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["edge", "--edge-id", "home-1"], capsys)
    assert code == 2
    assert "--upstream-url is required" in err


def test_report_shows_counters_of_an_outbox(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path, budget_bytes=1000)
    with box.transaction() as tx:
        tx.dead_letter("appliances/x/telemetry", "not_json", "payload is not JSON", b"{")
    box.close()
    main(["edge", "--report", "--outbox", str(path)])
    out = capsys.readouterr().out
    assert "dead_letters.not_json" in out
    assert "payload is not JSON" in out
