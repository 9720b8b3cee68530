"""``housecall scorecard`` and ``housecall history`` as a user runs them (console script)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from gateway.quality.tables import HistoryRecordRow
from housecall.cli import main
from tests.gateway.quality.helpers import WALL0, make_rig
from tests.gateway.quality.test_scorecards import simulate
from tests.gateway.workorders.helpers import fresh_engine

HOUSECALL = str(Path(sys.executable).with_name("housecall"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [HOUSECALL, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


@pytest.mark.slow
def test_scorecard_table_and_history_verification(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'housecall.db'}"
    engine = fresh_engine(url)
    simulate(make_rig(engine))
    since = (WALL0 - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    until = (WALL0 + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
    cards = run("scorecard", "--database-url", url, "--since", since, "--until", until)
    assert cards.returncode == 0, cards.stderr
    rows = [line for line in cards.stdout.splitlines() if "sp_" in line and "│" in line]
    ids = [r.split("│")[2].strip() for r in rows]
    assert ids[0] == "sp_good"
    assert sorted(ids) == ["sp_again", "sp_good", "sp_liar", "sp_slow"]
    assert "refrigerant_leak recorded, but its key signals" in cards.stdout

    intact = run("history", "ac-sp_good-0", "--database-url", url)
    assert intact.returncode == 0, intact.stderr
    assert "chain intact" in intact.stdout
    with sessionmaker(engine).begin() as session:
        session.execute(
            update(HistoryRecordRow)
            .where(HistoryRecordRow.device_id == "ac-sp_good-0", HistoryRecordRow.position == 2)
            .values(payload={"kind": "ac", "detail": {"technician_id": "someone-else"}})
        )
    broken = run("history", "ac-sp_good-0", "--database-url", url)
    assert broken.returncode == 1
    assert "chain broken at record 2" in broken.stdout


def test_a_reversed_period_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'housecall.db'}"
    with pytest.raises(SystemExit) as exited:
        main(["scorecard", "--database-url", url, "--since", "2026-08-01", "--until", "2026-07-01"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == "housecall: error: --since must be before --until"
