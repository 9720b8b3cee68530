"""``housecall demo``: the whole loop on embedded defaults, in a few minutes.

A small simulated fleet with a few developing faults is fast-forwarded over weeks of
device time through the real gateway (embedded MQTT broker, SQLite in a temp dir),
the detectors and the work-order service; a live table shows orders as they open,
then a summary; then the API keeps serving until Ctrl-C (``--no-serve`` to exit).
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)


def _any_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def demo(  # noqa: PLR0917 - typer options
    devices: Annotated[
        int | None,
        typer.Option(min=2, max=200, help="appliances in the fleet [default: 30; 20 on amqtt]"),
    ] = None,
    days: Annotated[float, typer.Option(min=20, max=120, help="days of device time")] = 28.0,
    seed: Annotated[int, typer.Option(help="fleet seed (same seed, same run)")] = 7,
    port: Annotated[int, typer.Option(min=0, max=65535, help="API port (0: any free)")] = 8080,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="keep the API serving until Ctrl-C")
    ] = True,
    exit_after: Annotated[bool, typer.Option("--exit", help="same as --no-serve")] = False,
    cold_start: Annotated[
        bool,
        typer.Option(
            "--cold-start", help="start the cohorts from nothing instead of the shipped baseline"
        ),
    ] = False,
) -> None:
    """Run a simulated fleet through the gateway, detectors and work orders."""
    # Imported here, not at module level: every `housecall` start would pay for them.
    from housecall.cli import UserError
    from housecall.demo.run import DemoOptions, DemoRun
    from housecall.demo.view import live_view, summary_tables

    # SIGTERM stops the demo the way Ctrl-C does: through the cleanup below, children,
    # broker and all, then one line (``housecall: error: interrupted``).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    console = Console()
    if not console.is_terminal:  # piped or captured: wide enough for the tables
        console = Console(width=150)
    if port and not _port_free(port):
        console.print(f"[yellow]port {port} is busy: serving the API on a free port instead")
        port = 0
    port = port or _any_free_port()
    if devices is None:
        from gateway.broker import find_mosquitto

        devices = 30
        if find_mosquitto() is None:
            devices = 20
            console.print(
                "[yellow]Mosquitto is not installed: the embedded broker is amqtt (pure Python, "
                "slower), so the demo fleet is 20 appliances. `apt install mosquitto` for the "
                "full fleet."
            )
    from housecall.demo.run import DEMO_BASELINE

    options = DemoOptions(devices=devices, days=days, seed=seed, api_port=port)
    options.baseline = None if cold_start else DEMO_BASELINE
    run = DemoRun(options)
    started = time.monotonic()
    try:
        with console.status("preparing the fleet and starting the gateway..."):
            try:
                run.start()
            except ImportError as err:
                raise UserError(f"a piece of the demo is missing: {err}") from None
        console.print(
            f"[bold]Housecall demo[/]: {devices} simulated appliances (ACs and washers), "
            f"{len(run.field.plans)} of them with a developing fault, {days:g} days of device "
            "time fast-forwarded through an embedded MQTT broker, the gateway, the detectors "
            "and the work-order service. Simulated technicians visit a day after an order "
            "opens and repair the unit (the first repair is botched on purpose, to show a "
            "reopen); customers follow self-fix notices. Lead time is measured against when "
            "the customer would have noticed without any repair."
        )
        for line in run.result.missing:
            console.print(f"[bold red]missing piece:[/] {line}")
        console.print(
            f"gateway up: MQTT {run.gateway.mqtt_url if run.gateway else '?'}, "
            f"API {run.result.api_url}, data in {run.workdir}"
        )
        with Live(
            live_view(run.progress, run.notice_at), console=console, refresh_per_second=4
        ) as live:

            def tick() -> None:
                live.update(live_view(run.progress, run.notice_at))

            try:
                run.publish_fleet(on_tick=tick)
            except RuntimeError as err:
                raise UserError(str(err)) from None
            tick()
        console.print()
        result = run.summarise(time.monotonic() - started)
        for table in summary_tables(result):
            console.print(table)
        if run.field.errors:
            console.print(
                f"[yellow]{len(run.field.errors)} demo visits failed: {run.field.errors[:3]}"
            )
        if serve and not exit_after:
            console.print(
                f"\n[bold]API serving at {result.api_url}[/]  (OpenAPI: {result.api_url}/docs)\n"
                f"admin token: {result.admin_token}\n"
                f"try: curl -H 'Authorization: Bearer {result.admin_token}' "
                f"{result.api_url}/api/v1/work-orders\n"
                "Ctrl-C to stop."
            )
            stop = threading.Event()
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                console.print("stopping")
    finally:
        run.stop()
