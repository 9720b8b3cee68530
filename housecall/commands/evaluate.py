"""``housecall evaluate``: run a simulated fleet through the detectors and score the orders.

The orders are those the gateway's own work-order service opens from the detectors'
signals (self-fix notices and their grace period included), on a throw-away SQLite store.

Prints per fault and overall: share of faults with a correct work order before the
customer noticed, median and 10th-percentile lead time, time to detect sudden faults,
diagnosis top-1 accuracy, false orders per 1,000 healthy device-days and precision;
the calibration of the orders' confidence (a reliability table per appliance kind and
overall, and the expected calibration error against its target);
lists every noticed gradual fault that got no correct order in time with the cause
(not judged, another fault named first, order only after the notice, evidence too weak),
every sudden fault not detected within 30 minutes of operating, and every order opened
on a healthy unit; optionally writes a PNG (and the reliability diagram beside it,
``<name>-calibration.png``). ``--mqtt-url`` sends
every message through a real broker (same numbers as the in-process path for the same
seed). ``--ac-share`` sets the fleet's mix (0: washers only, 1: air conditioners only), so
a figure measured on one kind alone is reproducible from the command line. ``--healthy``
runs the fleet's healthy twin (the same units, weather and use, every fault removed): every
order it opens is false, so it checks the rules and patterns against healthy units alone,
on seeds and sizes of its own. ``--physics-variation`` (0..1) runs a fleet whose physics and
sensor constants are drawn per model and per unit from ranges that widen with it, so a
figure measured on appliances unlike the nominal simulator's is a command too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, JustifyMethod
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge.contract import Kind
from housecall.evaluation.calibration import ECE_TARGET, Calibration
from housecall.evaluation.misses import CAUSES, Miss
from housecall.evaluation.scoring import (
    SUDDEN_TARGET_MINUTES,
    FaultRow,
    OpenedOrder,
    Report,
    SlowSudden,
)
from simulators.faults import FaultTruth
from simulators.fleet import DEFAULT_AC_SHARE


def register(app: typer.Typer) -> None:
    app.command(name="evaluate")(evaluate)


def evaluate(
    *,
    devices: Annotated[int, typer.Option(min=1, max=100_000, help="fleet size")] = 500,
    days: Annotated[float, typer.Option(min=0.5, max=365, help="days of device time")] = 60,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 7,
    ac_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of air conditioners (rest: washers)")
    ] = DEFAULT_AC_SHARE,
    mqtt_url: Annotated[
        str | None, typer.Option(help="publish through this broker (mqtt://host:port)")
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(
            help="write the lead-time/residual plot (and the reliability diagram beside it)"
        ),
    ] = None,
    healthy: Annotated[
        bool, typer.Option("--healthy", help="the healthy twin: the same fleet, no faults")
    ] = False,
    physics_variation: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="domain randomisation: 0 the nominal physics, 1 every physics and sensor"
            " constant drawn wide, per model and per unit",
        ),
    ] = 0.0,
) -> None:
    """Simulate a fleet, detect, open work orders, and score them against ground truth."""
    from housecall.cli import UserError
    from housecall.evaluation.runner import evaluate as run_evaluation
    from simulators.fleet import FleetConfig, ground_truth

    console = Console()
    config = FleetConfig(
        devices=devices,
        days=days,
        seed=seed,
        ac_share=ac_share,
        physics_variation=physics_variation,
    )
    if healthy:
        config = config.healthy_twin()
    fleet = (
        f"{devices} devices x {days:g} days"
        + ("" if ac_share == DEFAULT_AC_SHARE else f", {100 * ac_share:g}% ACs")
        + ("" if physics_variation == 0.0 else f", physics variation {physics_variation:g}")
        + (", healthy twin" if healthy else "")
    )
    if mqtt_url is not None:
        from edge.mqtt_url import MqttUrl

        try:
            MqttUrl.parse(mqtt_url)
        except ValueError as err:
            raise UserError(f"--mqtt-url: {err}") from None
    trace_device = _pick_trace_device(ground_truth(config)) if png else None
    with Progress(
        TextColumn("[bold]evaluating[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}% of device time"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(
            f"{fleet}, seed {seed}" + (f" via {mqtt_url}" if mqtt_url else " (in-process)"),
            total=1.0,
        )
        try:
            result = run_evaluation(
                config,
                mqtt_url=mqtt_url,
                progress=lambda share: progress.update(task, completed=share),
                trace_device=trace_device,
            )
        except (OSError, RuntimeError) as err:
            raise UserError(f"evaluation could not run: {err}") from None
    report = result.report
    console.print(_fault_table(report, f"seed {seed}: {fleet}"))
    console.print(_summary_table(report))
    console.print(_calibration_table(report))
    if result.misses:
        console.print(_misses_table(result.misses, config.start))
    if report.slow_sudden:
        console.print(_slow_sudden_table(report.slow_sudden, result.models, config.start))
    faulty = {truth.device_id for truth in result.truths}
    false_orders = [order for order in result.orders if order.device_id not in faulty]
    if false_orders:
        console.print(_false_orders_table(false_orders, result.models, config.start))
    console.print(
        f"{result.kinds.get(Kind.AC.value, 0)} air conditioners and "
        f"{result.kinds.get(Kind.WASHER.value, 0)} washers: "
        f"{result.messages:,} messages ({result.rejected} rejected, {result.duplicates} "
        f"duplicates, {result.late} late) in {result.seconds:.0f} s; detector "
        f"{result.detector_seconds / max(1, result.messages) * 1e6:.1f} µs, work-order "
        f"service {result.service_seconds / max(1, result.messages) * 1e6:.1f} µs per message"
    )
    if png is not None:
        from housecall.evaluation.plot import calibration_path, write_calibration_png, write_png

        write_png(result, png, f"Housecall evaluation, seed {seed}, {fleet}")
        reliability = calibration_path(png)
        write_calibration_png(result, reliability, f"Confidence calibration, seed {seed}, {fleet}")
        console.print(f"plot written to {png}, reliability diagram to {reliability}")


def _pick_trace_device(truths: Sequence[FaultTruth]) -> str | None:
    """A gradual AC fault that the customer noticed: the most telling residual picture."""
    best = None
    for truth in truths:
        if truth.sudden or truth.notice_at is None:
            continue
        if best is None or truth.device_id.startswith("ac-"):
            best = truth.device_id
            if truth.device_id.startswith("ac-"):
                break
    return best


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(table: Table, row: FaultRow, style: str = "") -> None:
    minutes = sorted(row.detect_minutes)
    onset = sorted(row.detect_from_onset_minutes)
    table.add_row(
        row.fault,
        str(row.injected),
        str(row.noticed),
        _pct(row.share_caught),
        _days(row.median_lead),
        _days(row.p10_lead),
        "-" if not minutes else f"{minutes[len(minutes) // 2]:.0f} / {minutes[-1]:.0f}",
        "-" if not onset else f"{onset[len(onset) // 2]:.0f}",
        _pct(row.top1 / row.diagnosed if row.diagnosed else None),
        style=style,
    )


def _add_columns(table: Table, *columns: tuple[str, JustifyMethod]) -> None:
    """Add ``(header, justify)`` columns in order."""
    for name, justify in columns:
        table.add_column(name, justify=justify)


def _fault_table(report: Report, title: str) -> Table:
    table = Table(title=title, caption="lead: days from the order to the customer's notice")
    _add_columns(
        table,
        ("fault", "left"),
        ("inj", "right"),
        ("noticed", "right"),
        ("order before notice", "right"),
        ("lead med d", "right"),
        ("lead p10 d", "right"),
        ("sudden min after operating med/max", "right"),
        ("sudden min after onset", "right"),
        ("top-1", "right"),
    )
    for row in report.rows.values():
        _row(table, row)
    _row(table, report.gradual, "bold")
    _row(table, report.sudden, "bold")
    _row(table, report.overall, "bold green")
    return table


def _summary_table(report: Report) -> Table:
    table = Table(title="orders")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("work orders opened", str(report.orders), "")
    table.add_row("correct orders", str(report.correct_orders), "")
    table.add_row("precision", _pct(report.precision), ">= 95%")
    table.add_row("false orders on healthy units", str(report.false_orders_healthy), "")
    table.add_row(
        "false orders per 1,000 healthy device-days",
        f"{report.false_per_1000_device_days:.3f}",
        "<= 0.05",
    )
    table.add_row(
        "sudden faults detected within 30 min of operating",
        f"{report.sudden_within_30min} / {report.sudden_timeable}",
        "all",
    )
    if report.sudden_never_operated:
        table.add_row(
            "sudden faults on appliances that never operated again",
            str(report.sudden_never_operated),
            "",
        )
    target = f"<= {ECE_TARGET:g}"
    table.add_row("confidence calibration error (ECE), all orders", _ece(report.ece), target)
    for kind, ece in report.ece_by_kind.items():
        table.add_row(f"confidence calibration error (ECE), {kind}", _ece(ece), target)
    return table


def _ece(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _calibration_table(report: Report) -> Table:
    """Reliability table: per kind and overall, each confidence bin's count and accuracy.

    A calibrated confidence has accuracy close to the bin's mean confidence; the gap
    column is accuracy minus confidence (negative: the orders claim too much).
    """
    table = Table(
        title="confidence calibration (every order; correct as for precision)",
        caption="ECE: count-weighted mean |accuracy - confidence| over the bins;"
        " fewer, wider bins when a kind has few orders",
    )
    _add_columns(
        table,
        ("kind", "left"),
        ("confidence bin", "left"),
        ("orders", "right"),
        ("mean confidence", "right"),
        ("accuracy", "right"),
        ("gap", "right"),
    )
    groups: list[tuple[str, Calibration]] = list(report.calibration_by_kind.items())
    groups.append(("all", report.calibration))
    for kind, calibration in groups:
        for row in calibration.bins:
            closing = "]" if row.high >= 1.0 else ")"
            table.add_row(
                kind,
                f"[{row.low:.2f}, {row.high:.2f}{closing}",
                str(row.count),
                f"{row.mean_confidence:.3f}",
                f"{row.accuracy:.3f}",
                f"{row.gap:+.3f}",
            )
        accuracy = calibration.accuracy
        table.add_row(
            kind,
            f"all ({calibration.n_bins} bin{'s' if calibration.n_bins > 1 else ''}),"
            f" ECE {_ece(calibration.ece)}",
            str(calibration.count),
            "-" if calibration.mean_confidence is None else f"{calibration.mean_confidence:.3f}",
            "-" if accuracy is None else f"{accuracy:.3f}",
            "-"
            if accuracy is None or calibration.mean_confidence is None
            else f"{accuracy - calibration.mean_confidence:+.3f}",
            style="bold",
            end_section=True,
        )
    return table


#: Rows of the misses table; the causes line below it always counts all of them.
MISSES_SHOWN = 40


def _run_day(moment: datetime, start: datetime) -> str:
    """Device time since the run's start, in days (how the tables name a moment)."""
    return f"{(moment - start).total_seconds() / 86400:.1f}"


def _misses_table(misses: Sequence[Miss], start: datetime) -> Table:
    counts = Counter(miss.cause for miss in misses)
    caption = ", ".join(f"{counts[cause]} {cause}" for cause in CAUSES if counts[cause])
    if len(misses) > MISSES_SHOWN:
        caption += f" (first {MISSES_SHOWN} of {len(misses)} shown)"
    table = Table(
        title="gradual faults noticed without a correct order before the notice",
        caption=caption + "; judged: steady AC windows or washer cycles between onset and notice",
    )
    _add_columns(
        table,
        ("device", "left"),
        ("model", "left"),
        ("fault", "left"),
        ("onset d", "right"),
        ("notice d", "right"),
        ("judged", "right"),
        ("first order after onset", "left"),
        ("cause", "left"),
    )

    for miss in misses[:MISSES_SHOWN]:
        first = miss.first_order
        table.add_row(
            miss.device_id,
            miss.model,
            miss.fault.value,
            _run_day(miss.onset_at, start),
            _run_day(miss.notice_at, start),
            str(miss.judged),
            "-"
            if first is None
            else f"{first.fault.value} at day {_run_day(first.opened_at, start)}",
            miss.cause,
        )
    return table


def _slow_sudden_table(
    slow: Sequence[SlowSudden], models: dict[str, str], start: datetime
) -> Table:
    """Every sudden fault that could show and took longer than the target, or never showed."""
    table = Table(
        title=f"sudden faults not detected within {SUDDEN_TARGET_MINUTES:.0f} min of operating",
        caption="operating: the appliance's first operation (or heating) at or after the onset",
    )
    _add_columns(
        table,
        ("device", "left"),
        ("model", "left"),
        ("fault", "left"),
        ("detail", "left"),
        ("onset d", "right"),
        ("operating d", "right"),
        ("detected min after operating", "right"),
    )
    for late in slow[:MISSES_SHOWN]:
        table.add_row(
            late.device_id,
            models.get(late.device_id, "?"),
            late.fault.value,
            late.detail or "",
            _run_day(late.onset_at, start),
            _run_day(late.operating_at, start),
            "never"
            if late.detected_at is None
            else f"{(late.detected_at - late.operating_at).total_seconds() / 60:.0f}",
        )
    return table


def _false_orders_table(
    orders: Sequence[OpenedOrder], models: dict[str, str], start: datetime
) -> Table:
    shown = f" (first {MISSES_SHOWN} of {len(orders)} shown)" if len(orders) > MISSES_SHOWN else ""
    table = Table(title=f"orders on healthy units (false orders){shown}")
    _add_columns(
        table,
        ("device", "left"),
        ("model", "left"),
        ("fault named", "left"),
        ("opened d", "right"),
        ("confidence", "right"),
    )
    for order in orders[:MISSES_SHOWN]:
        table.add_row(
            order.device_id,
            models.get(order.device_id, "?"),
            order.fault.value,
            _run_day(order.opened_at, start),
            f"{order.confidence:.2f}",
        )
    return table
