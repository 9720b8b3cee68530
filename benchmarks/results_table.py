"""Run every benchmark and write one current results table: ``docs/results.md``.

    .venv/bin/python -m benchmarks.results_table [--quick] [--out docs/results.md]
        [--only NAME] [--timeout SECONDS]

``./run bench`` runs this. Each benchmark runs alone, in a process of its own, through
the same ``main(argv)`` its own command line calls, and hands back its figures as a
dict; the table shows them beside their targets and the exact command that reproduces
each row. A benchmark that cannot run (no Mosquitto, no PostgreSQL, an error, past its
time limit) gets a row saying "not run" and why; no figure is ever carried over from an
earlier run. The table is stamped with the date and the machine (cores, CPU, load).

``--quick`` runs smaller sizes (a smoke run of a few minutes on two cores; its figures are
noisier and the detection figures come from a small, short fleet). The full run takes
about an hour on two cores, most of it the detection evaluation (500 devices x 60 days).
Each benchmark's own output is kept in a temporary folder whose path is printed at the
end. Exit status: 0 when every row was measured, 1 when a row was not, 2 for a bad flag.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Figures = dict[str, float]
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "results.md"
PYTHON = ".venv/bin/python -m"
#: Seconds a benchmark may run before it is stopped, per mode.
DEFAULT_TIMEOUT_S = {"full": 3 * 3600.0, "quick": 900.0}
#: Seconds a stopped benchmark gets to clean up (stop its servers) before it is killed.
GRACE_S = 30.0


@dataclass(frozen=True)
class RowSpec:
    """One row of the table: what is measured, how its figure reads, its target."""

    what: str
    figure: Callable[[Figures], str]
    target: str = "(reported)"
    #: Whether the figures meet the target (None: no target).
    met: Callable[[Figures], bool] | None = None


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: the function that measures it, its command, sizes and rows."""

    name: str
    #: ``module:function``, called with the argument list, returning :data:`Figures`.
    entry: str
    #: The command line that runs the same measurement (the arguments are appended).
    command: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    rows: tuple[RowSpec, ...]
    #: What the quick sizes leave out, said under the table of a quick run.
    quick_caveat: str = ""

    def args(self, quick: bool) -> tuple[str, ...]:
        return self.quick if quick else self.full

    def command_line(self, quick: bool) -> str:
        return " ".join((self.command, *self.args(quick)))


@dataclass(frozen=True)
class NotRun:
    """Why a benchmark has no figures in this run."""

    reason: str


Outcome = Figures | NotRun


@dataclass(frozen=True)
class Row:
    what: str
    figure: str
    target: str
    command: str


# -- formatting --------------------------------------------------------------------------


def num(value: float, digits: int = 0) -> str:
    """A figure with thousands separators; ``-`` where there is none (NaN).

    >>> num(83012.4), num(8.164, 1), num(float("nan"))
    ('83,012', '8.2', '-')
    """
    if math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def pct(value: float) -> str:
    """A share as a percentage; ``-`` where there is none.

    >>> pct(0.9662), pct(float("nan"))
    ('96.6%', '-')
    """
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


# -- the detection evaluation (a command of its own, not a script in benchmarks/) --------


def evaluation(argv: Sequence[str] | None = None) -> Figures:
    """``housecall evaluate``'s headline figures for one fleet (in-process, no broker)."""
    from housecall.evaluation.runner import evaluate
    from simulators.fleet import FleetConfig

    parser = argparse.ArgumentParser(description="detection quality on a simulated fleet")
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--days", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = evaluate(FleetConfig(devices=args.devices, days=args.days, seed=args.seed))
    report = result.report
    gradual = report.gradual

    def share(part: int, whole: int) -> float:
        return part / whole if whole else math.nan

    figures: Figures = {
        "gradual_noticed": float(gradual.noticed),
        "gradual_caught": float(gradual.caught),
        "gradual_share": share(gradual.caught, gradual.noticed),
        "median_lead_days": math.nan if gradual.median_lead is None else gradual.median_lead,
        "gradual_top1": share(gradual.top1, gradual.diagnosed),
        "orders": float(report.orders),
        "precision": math.nan if report.precision is None else report.precision,
        "false_per_1000_device_days": report.false_per_1000_device_days,
        "sudden_within_30min": float(report.sudden_within_30min),
        "sudden_timeable": float(report.sudden_timeable),
        "seconds": result.seconds,
    }
    print(json.dumps(figures, indent=1))
    return figures


# -- the benchmarks and their rows -------------------------------------------------------


def _detector_state(f: Figures) -> str:
    return (
        f"{num(f['state_mean_bytes'])} B mean, {num(f['state_max_bytes'])} B max serialised;"
        f" {num(f['state_memory_bytes'])} B in memory"
    )


def _workorders_rows(store: str, label: str) -> tuple[RowSpec, ...]:
    return (
        RowSpec(
            f"work-order sink per message, {label}",
            lambda f: (
                f"{num(f[f'{store}_sink_us'], 1)} µs ({num(f[f'{store}_sink_watched_us'], 1)} µs"
                f" with 10% of devices under fix verification); findings"
                f" {num(f[f'{store}_opened_per_s'])} new orders/s,"
                f" {num(f[f'{store}_updated_per_s'])} updates/s"
            ),
        ),
    )


def _nab_scores(f: Figures) -> str:
    def profiles(prefix: str) -> str:
        names = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
        return " / ".join(num(f[prefix + name], 1) for name in names)

    return f"{profiles('')} (held-out half {profiles('held_out_')})"


def _simulator_target() -> float:
    from benchmarks.simulator_throughput import TARGET_SAMPLES_PER_S

    return float(TARGET_SAMPLES_PER_S)


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        name="simulator_throughput",
        entry="benchmarks.simulator_throughput:main",
        command=f"{PYTHON} benchmarks.simulator_throughput",
        full=("--devices", "500", "--days", "2"),
        quick=("--devices", "100", "--days", "0.5"),
        rows=(
            RowSpec(
                "simulator, contract JSON, one core (CPU time)",
                lambda f: (
                    f"{num(f['json_samples_per_s'])} samples/s"
                    f" ({num(f['physics_samples_per_s'])} physics only)"
                ),
                target="≥ 50,000 samples/s",
                met=lambda f: f["json_samples_per_s"] >= _simulator_target(),
            ),
        ),
    ),
    Benchmark(
        name="detector_speed",
        entry="benchmarks.detector_speed:main",
        command=f"{PYTHON} benchmarks.detector_speed",
        full=("--devices", "10000", "--hours", "24"),
        quick=("--devices", "1000", "--hours", "4"),
        rows=(
            RowSpec(
                "detector update per message",
                lambda f: f"{num(f['us_per_message'], 1)} µs over {num(f['devices'])} devices",
                target="≤ 20 µs",
                met=lambda f: f["us_per_message"] <= 20.0,
            ),
            RowSpec(
                "detector state per device",
                _detector_state,
                target="≤ 8 KiB serialised",
                met=lambda f: f["state_max_bytes"] <= 8192,
            ),
        ),
    ),
    Benchmark(
        name="gateway_throughput",
        entry="benchmarks.gateway_throughput:main",
        command=f"{PYTHON} benchmarks.gateway_throughput",
        full=("--messages", "60000", "--seconds", "10", "--rounds", "2"),
        quick=("--messages", "10000", "--seconds", "4", "--rounds", "1"),
        rows=(
            RowSpec(
                "gateway vs bare paho subscriber (QoS 1, storage and detectors on)",
                lambda f: (
                    f"{num(f['gateway_msg_per_s'])} vs {num(f['bare_msg_per_s'])} msg/s,"
                    f" ratio {num(f['ratio'], 2)}"
                ),
                target="ratio ≥ 0.5",
                met=lambda f: f["ratio"] >= 0.5,
            ),
            RowSpec(
                "gateway publish-to-stored latency",
                lambda f: (
                    f"p50 {num(f['p50_ms'])} ms, p99 {num(f['p99_ms'])} ms"
                    f" at {num(f['achieved_rate'])} msg/s"
                ),
                target="p99 < 1 s at 5,000 msg/s",
                met=lambda f: f["p99_ms"] < 1000.0 and f["asked_rate"] >= 5000.0,
            ),
            RowSpec(
                "gateway's durable detector state (journal with every batch, checkpoints)",
                lambda f: (
                    f"{num(f['journal_bytes_per_message'])} B journal and"
                    f" {num(f['checkpoint_bytes_per_message'])} B checkpoint per message,"
                    f" {num(f['checkpoint_cpu_us_per_message'], 1)} µs CPU per message"
                ),
            ),
        ),
    ),
    Benchmark(
        name="edge_forwarding",
        entry="benchmarks.edge_forwarding:main",
        command=f"{PYTHON} benchmarks.edge_forwarding",
        full=("--messages", "20000"),
        quick=("--messages", "5000"),
        rows=(
            RowSpec(
                "edge agent with its durable outbox vs a plain relay",
                lambda f: (
                    f"{num(f['agent_msg_per_s'])} vs {num(f['plain_msg_per_s'])} msg/s,"
                    f" ratio {num(f['ratio'], 2)}"
                ),
            ),
        ),
    ),
    Benchmark(
        name="workorders_sqlite",
        entry="benchmarks.workorders_bench:main",
        command=f"{PYTHON} benchmarks.workorders_bench",
        full=("--store", "sqlite"),
        quick=("--store", "sqlite", "--orders", "100", "--messages", "20000"),
        rows=_workorders_rows("sqlite", "SQLite"),
    ),
    Benchmark(
        name="workorders_postgresql",
        entry="benchmarks.workorders_bench:main",
        command=f"{PYTHON} benchmarks.workorders_bench",
        full=("--store", "postgresql"),
        quick=("--store", "postgresql", "--orders", "100", "--messages", "20000"),
        rows=_workorders_rows("postgresql", "PostgreSQL"),
    ),
    Benchmark(
        name="quality_overhead",
        entry="benchmarks.quality_overhead:main",
        command=f"{PYTHON} benchmarks.quality_overhead",
        full=("--orders", "300"),
        quick=("--orders", "50"),
        rows=(
            RowSpec(
                "service-quality layer on the work-order path, SQLite",
                lambda f: (
                    f"{num(f['sqlite_cost_ratio'], 2)}x the plain cost"
                    f" ({num(f['sqlite_quality_changes_per_s'])} vs"
                    f" {num(f['sqlite_plain_changes_per_s'])} changes/s);"
                    f" history verified at {num(f['sqlite_verify_records_per_s'])} records/s"
                ),
            ),
        ),
    ),
    Benchmark(
        name="nab_benchmark",
        entry="benchmarks.nab_benchmark:main",
        command=f"{PYTHON} benchmarks.nab_benchmark",
        full=(),
        quick=(),
        rows=(
            RowSpec(
                "NAB corpus, standard / low-FP / low-FN, threshold fixed before scoring",
                _nab_scores,
                target="standard ≥ 60",
                met=lambda f: f["standard"] >= 60.0,
            ),
        ),
    ),
    Benchmark(
        name="evaluation",
        entry="benchmarks.results_table:evaluation",
        command=".venv/bin/housecall evaluate",
        full=("--devices", "500", "--days", "60", "--seed", "7"),
        quick=("--devices", "60", "--days", "14", "--seed", "7"),
        quick_caveat=(
            "the detection rows come from 60 appliances over 14 days: too few units and days"
            " for most cohorts to mature and most gradual faults to develop, so they check"
            " that the evaluation runs, not how well the detectors do"
        ),
        rows=(
            RowSpec(
                "detection: gradual faults with a correct order before the customer notices",
                lambda f: (
                    f"{pct(f['gradual_share'])} ({num(f['gradual_caught'])} of"
                    f" {num(f['gradual_noticed'])}), median lead {num(f['median_lead_days'], 1)} d"
                ),
                target="≥ 95%, median lead ≥ 7 d",
                met=lambda f: f["gradual_share"] >= 0.95 and f["median_lead_days"] >= 7.0,
            ),
            RowSpec(
                "detection: diagnosis top-1 on gradual faults",
                lambda f: pct(f["gradual_top1"]),
                target="≥ 90%",
                met=lambda f: f["gradual_top1"] >= 0.90,
            ),
            RowSpec(
                "detection: precision, false orders per 1,000 healthy device-days",
                lambda f: (
                    f"{pct(f['precision'])} of {num(f['orders'])} orders;"
                    f" {num(f['false_per_1000_device_days'], 3)} false"
                ),
                target="≥ 95%, ≤ 0.05",
                met=lambda f: f["precision"] >= 0.95 and f["false_per_1000_device_days"] <= 0.05,
            ),
            RowSpec(
                "detection: sudden faults named within 30 min of operating",
                lambda f: f"{num(f['sudden_within_30min'])} of {num(f['sudden_timeable'])}",
                target="all",
                met=lambda f: f["sudden_within_30min"] >= f["sudden_timeable"],
            ),
        ),
    ),
)
NAMES = tuple(b.name for b in BENCHMARKS)


# -- the table ---------------------------------------------------------------------------


def rows_of(benchmark: Benchmark, outcome: Outcome, *, quick: bool) -> list[Row]:
    """The benchmark's rows from its figures, or rows saying why it was not run."""
    command = f"`{benchmark.command_line(quick)}`"
    rows = []
    for spec in benchmark.rows:
        target = spec.target
        if isinstance(outcome, NotRun):
            figure = f"not run: {outcome.reason}"
        else:
            try:
                figure = spec.figure(outcome)
                if spec.met is not None:
                    target += ": met" if spec.met(outcome) else ": **not met**"
            except KeyError as missing:
                figure = f"not run: the benchmark returned no {missing}"
        rows.append(Row(spec.what, figure, target, command))
    return rows


def render(
    outcomes: Mapping[str, Outcome],
    *,
    quick: bool,
    stamp: str,
    benchmarks: Sequence[Benchmark] = BENCHMARKS,
) -> str:
    """The markdown of ``docs/results.md`` (``stamp``: when and where it was measured)."""
    lines = [
        "# Measured results",
        "",
        (
            f"Written by `./run bench` (`{PYTHON} benchmarks.results_table"
            f"{' --quick' if quick else ''}`) {stamp}."
        ),
        "",
    ]
    if quick:
        lines += [
            "**Quick run** (`--quick`): smaller sizes than the targets are stated for, a smoke",
            "run; the full run (`./run bench`) measures the stated sizes.",
        ]
        caveats = [b for b in benchmarks if b.quick_caveat and b.name in outcomes]
        lines += [""] if caveats else []
        lines += [f"- {b.name}: {b.quick_caveat}." for b in caveats]
        lines.append("")
    lines += [
        "Every figure was measured once, in this run, by the command beside it. Machines that",
        "run other work vary by tens of percent; a row that could not be measured says why.",
        "",
        "| what | figure | target | command |",
        "|---|---|---|---|",
    ]
    for benchmark in benchmarks:
        outcome = outcomes.get(benchmark.name, NotRun("not selected (--only)"))
        for row in rows_of(benchmark, outcome, quick=quick):
            cells = (row.what, row.figure, row.target, row.command)
            lines.append("| " + " | ".join(cell(text) for text in cells) + " |")
    lines.append("")
    return "\n".join(lines)


def load_average() -> float:
    """The 1-minute load average (NaN where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def machine_stamp(started: datetime, load_start: float, load_end: float) -> str:
    """``on <date>, on <machine>``: when, cores available (nproc), CPU, Python and load.

    The load average at the start and at the end says whether other work shared the
    machine while the figures were measured.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ""
    if not math.isnan(load_start):
        load = f"; load average {load_start:.1f} at the start, {load_end:.1f} at the end"
    return (
        f"on {started:%Y-%m-%d %H:%M} UTC, on a machine with {cores} cores (nproc), {cpu},"
        f" Python {platform.python_version()}{load}"
    )


# -- running -----------------------------------------------------------------------------

#: Runs one benchmark: (benchmark, its arguments, log file, timeout) -> its outcome.
Runner = Callable[[Benchmark, Sequence[str], Path, float], Outcome]


def child() -> None:
    """In the benchmark's own process: ``child ENTRY RESULT_FILE ARGS...``."""
    entry, result_file, *argv = sys.argv[1:]
    module, _, function = entry.partition(":")
    figures = getattr(importlib.import_module(module), function)(argv)
    Path(result_file).write_text(json.dumps(figures))


def run_in_process(benchmark: Benchmark, argv: Sequence[str], log: Path, timeout: float) -> Outcome:
    """Run ``benchmark`` in a process of its own; its output goes to ``log``."""
    result = log.with_suffix(".json")
    command = [
        sys.executable,
        "-c",
        "from benchmarks.results_table import child; child()",
        benchmark.entry,
        str(result),
        *argv,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            return NotRun(f"stopped after {timeout:.0f} s (--timeout)")
        except KeyboardInterrupt:
            _stop(process)
            raise
    if code != 0 or not result.exists():
        return NotRun(f"failed ({_last_line(log)})")
    figures: Figures = json.loads(result.read_text())
    return figures


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Interrupt the benchmark (it stops its servers on the way out), then kill it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _last_line(log: Path) -> str:
    """The last line the benchmark wrote (the error, when it failed)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:200] if lines else "no output"


def run_all(
    benchmarks: Sequence[Benchmark],
    *,
    quick: bool,
    timeout: float,
    logs: Path,
    runner: Runner = run_in_process,
    console: Console | None = None,
) -> dict[str, Outcome]:
    """Run each benchmark in turn, with progress; their outcomes by name."""
    console = console or Console(stderr=True)
    outcomes: dict[str, Outcome] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} benchmarks"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=len(benchmarks))
        for benchmark in benchmarks:
            progress.update(task, description=benchmark.command_line(quick))
            started = time.monotonic()
            outcome = runner(
                benchmark, benchmark.args(quick), logs / f"{benchmark.name}.log", timeout
            )
            took = time.monotonic() - started
            outcomes[benchmark.name] = outcome
            if isinstance(outcome, NotRun):
                progress.console.print(
                    f"[red]✗[/] {benchmark.name} ({took:.0f} s): not run: {outcome.reason}",
                    markup=True,
                    highlight=False,
                )
            else:
                progress.console.print(f"[green]✓[/] {benchmark.name} ({took:.0f} s)")
            progress.advance(task)
    return outcomes


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="benchmarks.results_table",
        description="Run every benchmark and write one current results table.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="markdown file to write (docs/results.md)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=NAMES,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds each benchmark may run (default 10800, --quick 900)",
    )
    args = parser.parse_args(argv)
    if args.timeout is not None and not args.timeout > 0:
        parser.error(f"--timeout must be above 0, got {args.timeout:g}")
    return args


def main(
    argv: Sequence[str] | None = None,
    *,
    runner: Runner = run_in_process,
    logs: Path | None = None,
) -> int:
    """Run the chosen benchmarks and write the table; ``logs``: where their output goes."""
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    timeout = args.timeout or DEFAULT_TIMEOUT_S[mode]
    chosen = [b for b in BENCHMARKS if args.only is None or b.name in args.only]
    started, load_start = datetime.now(UTC), load_average()
    logs = logs or Path(tempfile.mkdtemp(prefix="housecall-bench-"))
    console = Console(stderr=True)
    try:
        outcomes = run_all(chosen, quick=args.quick, timeout=timeout, logs=logs, runner=runner)
    except KeyboardInterrupt:
        console.print(
            f"interrupted: {args.out} not written; output so far in {logs}", soft_wrap=True
        )
        return 130
    stamp = machine_stamp(started, load_start, load_average())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(outcomes, quick=args.quick, stamp=stamp))
    missing = [name for name, outcome in outcomes.items() if isinstance(outcome, NotRun)]
    console.print(f"wrote {args.out}; each benchmark's output is in {logs}", soft_wrap=True)
    if missing:
        console.print(f"not run: {', '.join(missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
