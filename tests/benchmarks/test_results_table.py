"""The results-table writer on injected figures: no benchmark runs here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks import results_table
from benchmarks.results_table import BENCHMARKS, Benchmark, Figures, NotRun, Outcome, render

STAMP = "on 2030-01-02 03:04 UTC, on a machine with 2 cores (nproc)"

DETECTOR: Figures = {
    "devices": 1000.0,
    "us_per_message": 9.27,
    "state_mean_bytes": 2135.4,
    "state_max_bytes": 9000.0,
    "state_memory_bytes": 2609.0,
}
EDGE: Figures = {"plain_msg_per_s": 3866.0, "agent_msg_per_s": 3926.4, "ratio": 1.0156}


def table_rows(markdown: str) -> dict[str, list[str]]:
    """The table's rows by their first cell (what), each the list of the other cells."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| what "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_benchmark_has_a_row_with_its_figures_or_why_not() -> None:
    outcomes: dict[str, Outcome] = {
        "detector_speed": DETECTOR,
        "edge_forwarding": EDGE,
        "gateway_throughput": NotRun("failed (ServerError: mosquitto not found | missing)"),
        "nab_benchmark": {"standard": 66.4},  # the rest of its figures missing
    }
    markdown = render(outcomes, quick=False, stamp=STAMP)
    assert markdown.startswith("# Measured results\n")
    assert STAMP in markdown
    assert "Quick run" not in markdown
    assert "| what | figure | target | command |\n|---|---|---|---|\n" in markdown
    rows = table_rows(markdown)
    assert len(rows) == sum(len(b.rows) for b in BENCHMARKS)
    assert rows["detector update per message"] == [
        "9.3 µs over 1,000 devices",
        "≤ 20 µs: met",
        "`.venv/bin/python -m benchmarks.detector_speed --devices 10000 --hours 24`",
    ]
    figure, target, _ = rows["detector state per device"]
    assert figure == "2,135 B mean, 9,000 B max serialised; 2,609 B in memory"
    assert target == "≤ 8 KiB serialised: **not met**"
    figure, target, _ = rows["edge agent with its durable outbox vs a plain relay"]
    assert (figure, target) == ("3,926 vs 3,866 msg/s, ratio 1.02", "(reported)")
    gateway = [what for what in rows if what.startswith("gateway")]
    assert len(gateway) == 3
    for what in gateway:
        # A pipe inside a cell is escaped, so the row keeps its four cells.
        assert rows[what][0] == "not run: failed (ServerError: mosquitto not found \\| missing)"
    nab = next(cells for what, cells in rows.items() if what.startswith("NAB"))
    assert nab[0] == "not run: the benchmark returned no 'reward_low_FP_rate'"
    assert rows["simulator, contract JSON, one core (CPU time)"][0] == (
        "not run: not selected (--only)"
    )


def test_a_quick_table_says_so_and_shows_the_quick_commands() -> None:
    markdown = render({"edge_forwarding": EDGE}, quick=True, stamp=STAMP)
    assert "results_table --quick`" in markdown
    assert "**Quick run**" in markdown
    assert "- evaluation:" not in markdown  # its caveat only where it ran
    rows = table_rows(markdown)
    command = rows["edge agent with its durable outbox vs a plain relay"][2]
    assert command == "`.venv/bin/python -m benchmarks.edge_forwarding --messages 5000`"


def test_figures_that_are_not_there_show_as_a_dash() -> None:
    evaluation = next(b for b in BENCHMARKS if b.name == "evaluation")
    nothing_noticed: Figures = {
        "gradual_noticed": 0.0,
        "gradual_caught": 0.0,
        "gradual_share": math.nan,
        "median_lead_days": math.nan,
        "gradual_top1": math.nan,
        "orders": 3.0,
        "precision": 1.0,
        "false_per_1000_device_days": 0.0,
        "sudden_within_30min": 2.0,
        "sudden_timeable": 2.0,
    }
    markdown = render({"evaluation": nothing_noticed}, quick=True, stamp=STAMP)
    assert f"- evaluation: {evaluation.quick_caveat}." in markdown
    rows = table_rows(markdown)
    gradual = rows[evaluation.rows[0].what]
    assert gradual[0] == "- (0 of 0), median lead - d"
    assert rows[evaluation.rows[2].what][:2] == [
        "100.0% of 3 orders; 0.000 false",
        "≥ 95%, ≤ 0.05: met",
    ]
    assert rows[evaluation.rows[3].what][:2] == ["2 of 2", "all: met"]


def test_main_writes_the_table_from_what_the_runner_hands_back(tmp_path: Path) -> None:
    asked: list[tuple[str, tuple[str, ...]]] = []

    def runner(benchmark: Benchmark, argv: Sequence[str], log: Path, timeout: float) -> Outcome:
        asked.append((benchmark.name, tuple(argv)))
        assert log.parent.is_dir()
        assert timeout == 900.0
        return {"detector_speed": DETECTOR, "edge_forwarding": EDGE}[benchmark.name]

    out = tmp_path / "docs" / "results.md"
    argv = ["--quick", "--only", "edge_forwarding", "--only", "detector_speed", "--out", str(out)]
    assert results_table.main(argv, runner=runner, logs=tmp_path) == 0
    assert asked == [
        ("detector_speed", ("--devices", "1000", "--hours", "4")),
        ("edge_forwarding", ("--messages", "5000")),
    ]
    rows = table_rows(out.read_text())
    assert rows["detector update per message"][0] == "9.3 µs over 1,000 devices"
    assert rows["edge agent with its durable outbox vs a plain relay"][0].startswith("3,926 vs")


def test_main_reports_a_benchmark_that_did_not_run(tmp_path: Path) -> None:
    def runner(benchmark: Benchmark, argv: Sequence[str], log: Path, timeout: float) -> Outcome:
        return NotRun("stopped after 5 s (--timeout)")

    out = tmp_path / "results.md"
    argv = ["--only", "nab_benchmark", "--timeout", "5", "--out", str(out)]
    code = results_table.main(argv, runner=runner, logs=tmp_path)
    assert code == 1
    nab = next(cells for what, cells in table_rows(out.read_text()).items() if "NAB" in what)
    assert nab[0] == "not run: stopped after 5 s (--timeout)"


@pytest.mark.parametrize(
    "argv",
    [["--bogus"], ["--only", "nope"], ["--timeout", "0"], ["--timeout", "soon"]],
)
def test_a_bad_flag_is_one_line_and_exit_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    def runner(benchmark: Benchmark, argv: Sequence[str], log: Path, timeout: float) -> Outcome:
        raise AssertionError("no benchmark runs on a bad flag")

    with pytest.raises(SystemExit) as exit_:
        results_table.main(argv, runner=runner, logs=Path("/nonexistent"))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("benchmarks.results_table: ")


def test_the_stamp_names_the_date_the_cores_and_the_load() -> None:
    stamp = results_table.machine_stamp(datetime(2030, 1, 2, 3, 4, tzinfo=UTC), 1.5, 3.25)
    assert stamp.startswith("on 2030-01-02 03:04 UTC, on a machine with ")
    assert " cores (nproc), " in stamp
    assert stamp.endswith("; load average 1.5 at the start, 3.2 at the end")
