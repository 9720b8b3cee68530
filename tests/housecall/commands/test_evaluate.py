"""``housecall evaluate`` as a user runs it: a real subprocess on a tiny fleet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

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


def rendered(table: Table) -> str:
    """What a 200-column terminal shows of ``table``."""
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


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
        "confidence calibration error (ECE), all orders",
        "confidence calibration (every order",
    ):
        assert heading in result.stdout
    assert "messages" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    reliability = tmp_path / "evaluation-calibration.png"
    assert reliability.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(reliability) in result.stdout


@pytest.mark.slow
def test_ac_share_sets_the_fleet_mix_the_run_reports() -> None:
    washers = run("evaluate", "--devices", "4", "--days", "0.5", "--seed", "3", "--ac-share", "0")
    assert washers.returncode == 0, washers.stderr
    assert "0 air conditioners and 4 washers" in washers.stdout
    assert "0% ACs" in washers.stdout
    mixed = run("evaluate", "--devices", "4", "--days", "0.5", "--seed", "3")
    assert mixed.returncode == 0, mixed.stderr
    assert "2 air conditioners and 2 washers" in mixed.stdout


@pytest.mark.slow
def test_healthy_runs_the_same_fleet_with_no_fault_injected() -> None:
    faulty = run("evaluate", "--devices", "12", "--days", "1", "--seed", "3")
    twin = run("evaluate", "--devices", "12", "--days", "1", "--seed", "3", "--healthy")
    assert faulty.returncode == 0, faulty.stderr
    assert twin.returncode == 0, twin.stderr
    assert "healthy twin" in twin.stdout
    assert _injected(faulty.stdout) > 0
    assert _injected(twin.stdout) == 0
    # the same units: the twin's summary line counts the same kinds
    assert _fleet_line(faulty.stdout) == _fleet_line(twin.stdout)


def _injected(stdout: str) -> int:
    """The ``inj`` column of the overall row."""
    row = next(line for line in stdout.splitlines() if "│ overall" in line)
    return int(row.split("│")[2])


def _fleet_line(stdout: str) -> str:
    line = next(line for line in stdout.splitlines() if "air conditioners and" in line)
    return line.split(":")[0]


def test_a_bad_flag_is_one_line_and_exit_2() -> None:
    result = run("evaluate", "--devices", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    bad_share = run("evaluate", "--devices", "2", "--ac-share", "1.5")
    assert bad_share.returncode == 2
    assert "--ac-share" in bad_share.stderr
    assert bad_share.stderr.count("\n") == 1
    bad_url = run("evaluate", "--devices", "2", "--days", "1", "--mqtt-url", "ftp://nowhere")
    assert bad_url.returncode == 2
    assert "--mqtt-url" in bad_url.stderr
    assert "Traceback" not in bad_url.stderr


@pytest.mark.parametrize("value", ["1.5", "-0.1", "wide"])
def test_physics_variation_outside_0_to_1_is_one_line_and_exit_2(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process through the console script's own entry point: refused before any fleet.
    from housecall.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--devices", "2", "--days", "1", "--physics-variation", value])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "--physics-variation" in lines[0]


@pytest.mark.slow
def test_physics_variation_runs_and_names_itself_in_the_title() -> None:
    result = run(
        "evaluate", "--devices", "4", "--days", "0.5", "--seed", "3", "--physics-variation", "1"
    )
    assert result.returncode == 0, result.stderr
    assert "physics variation 1" in result.stdout
    assert "2 air conditioners and 2 washers" in result.stdout


def test_the_misses_table_names_every_miss_and_counts_the_causes() -> None:
    from datetime import UTC, datetime, timedelta

    from edge.contract import Fault
    from housecall.commands.evaluate import MISSES_SHOWN, _misses_table
    from housecall.evaluation.misses import NOT_JUDGED, ORDER_AFTER_NOTICE, Miss
    from housecall.evaluation.scoring import OpenedOrder

    start = datetime(2026, 6, 1, tzinfo=UTC)
    late = OpenedOrder("ac-000001", Fault.REFRIGERANT_LEAK, start + timedelta(days=23), 0.9)
    misses = [
        Miss(
            device_id=f"wm-{i:06d}",
            model="BW-6010",
            fault=Fault.SUSPENSION_WEAR,
            onset_at=start + timedelta(days=3),
            notice_at=start + timedelta(days=30),
            judged=0,
            first_order=None,
            correct_order=None,
            cause=NOT_JUDGED,
        )
        for i in range(MISSES_SHOWN)
    ]
    misses.append(
        Miss(
            "ac-000001",
            "KS-50V",
            Fault.REFRIGERANT_LEAK,
            start,
            start + timedelta(days=22.7),
            470,
            late,
            late,
            ORDER_AFTER_NOTICE,
        )
    )
    text = rendered(_misses_table(misses, start))
    assert "wm-000000" in text
    assert "suspension_wear" in text
    assert "BW-6010" in text
    assert "ac-000001" not in text  # beyond the rows shown, but still counted below
    assert f"{MISSES_SHOWN} not judged, 1 order after notice" in text
    assert f"first {MISSES_SHOWN} of {MISSES_SHOWN + 1} shown" in text


def test_the_false_orders_table_names_the_healthy_unit_and_its_model() -> None:
    from datetime import UTC, datetime, timedelta

    from edge.contract import Fault
    from housecall.commands.evaluate import _false_orders_table
    from housecall.evaluation.scoring import OpenedOrder

    start = datetime(2026, 6, 1, tzinfo=UTC)
    order = OpenedOrder("wm-000010", Fault.SENSOR_FAULT, start + timedelta(days=23.4), 0.71)
    text = rendered(_false_orders_table([order], {"wm-000010": "BW-8414"}, start))
    assert "false orders" in text
    assert "wm-000010" in text
    assert "BW-8414" in text
    assert "sensor_fault" in text
    assert "23.4" in text
    assert "0.71" in text


def test_the_slow_sudden_table_says_how_late_or_never() -> None:
    from datetime import UTC, datetime, timedelta

    from edge.contract import Fault
    from housecall.commands.evaluate import _slow_sudden_table
    from housecall.evaluation.scoring import SlowSudden

    start = datetime(2026, 6, 1, tzinfo=UTC)
    on = start + timedelta(days=3)
    slow = [
        SlowSudden(
            "ac-000007", Fault.SENSOR_FAULT, "stuck:room_temp_c", on, on, on + timedelta(hours=2)
        ),
        SlowSudden("wm-000008", Fault.HEATER_FAILURE, None, on, on + timedelta(days=1), None),
    ]
    text = rendered(_slow_sudden_table(slow, {"ac-000007": "PX-12HR"}, start))
    ac_line = next(line for line in text.splitlines() if "ac-000007" in line)
    assert "PX-12HR" in ac_line
    assert "stuck:room_temp_c" in ac_line
    assert ac_line.rstrip(" │").endswith("120")
    washer_line = next(line for line in text.splitlines() if "wm-000008" in line)
    assert "4.0" in washer_line
    assert "never" in washer_line


def test_the_calibration_table_lists_bins_per_kind_and_the_summary_shows_the_ece_target() -> None:
    from datetime import UTC, datetime, timedelta

    from edge.contract import Fault
    from housecall.commands.evaluate import _calibration_table, _summary_table
    from housecall.evaluation.scoring import OpenedOrder, Truth, score

    start = datetime(2026, 6, 1, tzinfo=UTC)
    truths = [Truth("ac-1", Fault.REFRIGERANT_LEAK, start, None, sudden=False)]
    orders = [
        OpenedOrder("ac-1", Fault.REFRIGERANT_LEAK, start + timedelta(days=1), 1.0),
        OpenedOrder("wm-2", Fault.SENSOR_FAULT, start + timedelta(days=2), 0.7),
    ]
    report = score(truths, orders, ["ac-1", "wm-2"], 10, {"ac-1": "ac", "wm-2": "washer"})
    text = rendered(_calibration_table(report))
    ac_bin = next(line for line in text.splitlines() if "ac " in line and "[0.00, 1.00]" in line)
    assert ac_bin.split("│")[3].strip() == "1"  # orders
    assert ac_bin.split("│")[5].strip() == "1.000"  # accuracy
    washer_all = next(line for line in text.splitlines() if "washer" in line and "ECE" in line)
    assert "ECE 0.700" in washer_all
    overall = next(
        line for line in text.splitlines() if line.startswith("│ all ") and "ECE" in line
    )
    # one bin of two orders: mean confidence 0.85, one right -> ECE 0.35
    assert "ECE 0.350" in overall
    summary = rendered(_summary_table(report))
    ece_line = next(line for line in summary.splitlines() if "ECE), all orders" in line)
    assert "0.350" in ece_line
    assert "<= 0.05" in ece_line
    assert "ECE), washer" in summary
