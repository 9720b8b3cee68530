"""``housecall simulate``: run a simulated fleet into a broker or a JSONL file, with ground truth.

Examples::

    housecall simulate --devices 200 --days 30 --seed 7 --mqtt-url mqtt://127.0.0.1:1883 \\
        --truth truth.jsonl
    housecall simulate --devices 50 --days 60 --ac-interval 300 --out fleet.jsonl --truth t.jsonl
    housecall simulate --devices 50 --days 30 --physics-variation 1 --out other-physics.jsonl

``--physics-variation`` (0..1) draws every physics and sensor constant per model and per
unit from ranges that widen with it (``simulators/variation.py``); 0 is the nominal fleet.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from edge.contract import Channel
from edge.mqtt_url import MqttUrl
from simulators.fleet import DEFAULT_AC_SHARE

if TYPE_CHECKING:
    from simulators.fleet import FleetRun, SimMessage
    from simulators.scenario import Scenario


def register(app: typer.Typer) -> None:
    app.command(name="simulate")(simulate)


def simulate(
    *,
    devices: Annotated[int, typer.Option(min=1, max=1_000_000, help="Number of appliances.")] = 200,
    days: Annotated[float, typer.Option(min=0.01, max=3660, help="Days of device time.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same fleet.")] = 7,
    scenario: Annotated[
        Path | None, typer.Option(help="Scenario TOML: fault mix, injections, confounders.")
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(envvar="HOUSECALL_MQTT_URL", help="Publish to this broker (mqtt://...)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write messages as JSONL instead of publishing.")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Write the ground truth (faults, onset, notice) as JSONL.")
    ] = None,
    start: Annotated[
        str, typer.Option(help="First day of device time (UTC date or RFC 3339 time).")
    ] = "2026-06-01",
    ac_interval: Annotated[
        int, typer.Option(min=30, max=300, help="AC telemetry interval, s (contract: 30-300).")
    ] = 60,
    washer_interval: Annotated[
        int, typer.Option(min=5, max=60, help="Washer interval while running, s (5-60).")
    ] = 10,
    ac_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of ACs.")
    ] = DEFAULT_AC_SHARE,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of devices given a fault.")
    ] = 0.3,
    physics_variation: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Domain randomisation: 0 the nominal physics, 1 every physics and sensor"
            " constant drawn wide, per model and per unit.",
        ),
    ] = 0.0,
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, help="Device seconds per wall second (default: flat out)."),
    ] = None,
    max_inflight: Annotated[
        int, typer.Option(min=1, max=65000, help="Unacknowledged QoS 1 messages at most.")
    ] = 1000,
) -> None:
    """Simulate a fleet of ACs and washers (physics, faults, confounders) in device time."""
    # Imported here so that every other `housecall` command starts without numpy and physics.
    from edge.publisher import PublishError
    from housecall.cli import UserError
    from simulators.fleet import FleetConfig, FleetRun
    from simulators.publish import publish_fleet, write_jsonl, write_truth
    from simulators.scenario import Scenario, ScenarioError

    if mqtt_url and out:
        raise UserError("give either --mqtt-url or --out, not both")
    if not mqtt_url and not out:
        raise UserError("say where the messages go: --mqtt-url mqtt://HOST:PORT or --out FILE")
    url: MqttUrl | None = None
    if mqtt_url:
        try:
            url = MqttUrl.parse(mqtt_url)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--mqtt-url") from None
    try:
        start_at = _parse_start(start)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--start") from None
    loaded: Scenario | None = None
    if scenario is not None:
        try:
            loaded = Scenario.from_toml(scenario)
        except ScenarioError as err:
            raise UserError(str(err)) from None
    try:
        config = FleetConfig(
            devices=devices,
            days=days,
            seed=seed,
            start=start_at,
            ac_share=ac_share,
            ac_interval_s=ac_interval,
            washer_interval_s=washer_interval,
            scenario=loaded,
            fault_rate=fault_rate,
            physics_variation=physics_variation,
        )
        run = FleetRun(config)
    except ValueError as err:
        raise UserError(str(err)) from None

    console = Console(stderr=True)
    counts = dict.fromkeys(Channel, 0)
    total_s = config.days * 86400.0
    first = start_at.timestamp()
    wall0 = time.monotonic()
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}% of device time"),
        TextColumn("{task.fields[msgs]:>10,} msgs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("sim", total=total_s, msgs=0)
        seen = 0

        def tick(msg: SimMessage) -> None:
            nonlocal seen
            counts[msg.channel] += 1
            seen += 1
            if seen % 2000 == 0:
                progress.update(task, completed=msg.epoch_s - first, msgs=seen)

        try:
            if url is not None:
                report = publish_fleet(
                    run.messages(), url, speed=speed, max_inflight=max_inflight, on_message=tick
                )
                acked_note = (
                    f"{report.acknowledged:,} acknowledged"
                    if report.all_acked
                    else f"only {report.acknowledged:,} of {report.published:,} acknowledged"
                )
            else:
                assert out is not None
                with out.open("wb") as handle:
                    write_jsonl(run.messages(), handle, on_message=tick)
                acked_note = f"written to {out}"
        except PublishError as err:
            raise UserError(str(err)) from None
        except OSError as err:
            raise UserError(f"cannot write {out}: {err.strerror}") from None
        progress.update(task, completed=total_s, msgs=seen)
    wall = time.monotonic() - wall0
    faults = run.truth()
    if truth is not None:
        try:
            write_truth(faults, truth)
        except OSError as err:
            raise UserError(f"cannot write {truth}: {err.strerror}") from None
    _summary(console, run, counts, faults_noticed=sum(1 for f in faults if f.notice_at), wall=wall)
    console.print(f"messages: {acked_note}" + (f"; ground truth in {truth}" if truth else ""))
    if url is not None and not report.all_acked:
        sys.exit(1)


def _parse_start(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or RFC 3339 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _summary(
    console: Console,
    run: FleetRun,
    counts: dict[Channel, int],
    *,
    faults_noticed: int,
    wall: float,
) -> None:
    stats = run.stats
    table = Table(title="housecall simulate", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(stats.by_kind.items()))
    table.add_row("devices", f"{len(run.devices):,} ({kinds})")
    for channel in (Channel.TELEMETRY, Channel.EVENTS, Channel.BIRTH, Channel.STATUS):
        table.add_row(f"{channel.value} messages", f"{counts[channel]:,}")
    table.add_row("washer cycles", f"{stats.cycles:,}")
    table.add_row("power cuts (by region)", f"{stats.power_cuts:,}")
    table.add_row("faults injected", f"{len(run.plans):,}")
    table.add_row("faults the customer noticed", f"{faults_noticed:,}")
    table.add_row(
        "error events (on healthy units)", f"{stats.errors:,} ({stats.errors_on_healthy})"
    )
    rate = stats.messages / wall if wall > 0 else 0.0
    table.add_row("wall time", f"{wall:,.1f} s ({rate:,.0f} msg/s)")
    console.print(table)
