"""``housecall edge``: run the home edge agent (store-and-forward, features at the source).

    housecall edge --local-url mqtt://127.0.0.1:1883 --upstream-url mqtts://u:p@cloud:8883 \\
        --edge-id home-42 --outbox /var/lib/housecall/outbox.db --disk-budget-mb 256

``--report`` prints what the outbox holds and every counter (drops, dead letters) and exits.
Behaviour, topics and the overflow policy: :mod:`edge.agent` and :mod:`edge.outbox`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sqlite3
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from edge.mqtt_url import MqttUrl

if TYPE_CHECKING:
    from edge.agent import EdgeAgent, EdgeConfig

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command(name="edge")(edge_command)


def edge_command(  # noqa: PLR0917 (typer: one parameter per flag)
    local_url: Annotated[
        str, typer.Option("--local-url", help="Home broker, mqtt://user:pass@host:port")
    ] = "mqtt://127.0.0.1:1883",
    upstream_url: Annotated[
        str | None, typer.Option("--upstream-url", help="Upstream (cloud) broker URL")
    ] = None,
    edge_id: Annotated[
        str | None, typer.Option("--edge-id", help="This agent's id ([A-Za-z0-9_-], 1-64)")
    ] = None,
    outbox: Annotated[
        Path, typer.Option("--outbox", help="SQLite outbox file (created if missing)")
    ] = Path("housecall-edge-outbox.db"),
    disk_budget_mb: Annotated[
        float, typer.Option("--disk-budget-mb", help="Outbox budget; oldest telemetry dropped")
    ] = 256.0,
    replay_rate: Annotated[
        float, typer.Option("--replay-rate", help="Replayed msg/s after an outage (0: no cap)")
    ] = 500.0,
    replay_age_s: Annotated[
        float, typer.Option("--replay-age-s", help="Older rows are sent marked replay")
    ] = 30.0,
    max_inflight: Annotated[
        int, typer.Option("--max-inflight", help="Unacknowledged upstream publishes")
    ] = 500,
    status_interval_s: Annotated[
        float, typer.Option("--status-interval-s", help="Seconds between status reports")
    ] = 10.0,
    report: Annotated[
        bool, typer.Option("--report", help="Print the outbox's contents and counters, exit")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No periodic status lines")] = False,
) -> None:
    """Forward the home's appliances upstream through a durable outbox."""
    from housecall.cli import UserError

    if report:
        _print_report(outbox, disk_budget_mb)
        return
    if upstream_url is None:
        raise UserError("--upstream-url is required (e.g. mqtts://user:pass@broker:8883)")
    if edge_id is None:
        raise UserError("--edge-id is required (letters, digits, '_' or '-', 1 to 64)")
    config = _config(
        local_url=local_url,
        upstream_url=upstream_url,
        edge_id=edge_id,
        outbox=outbox,
        disk_budget_mb=disk_budget_mb,
        replay_rate=replay_rate,
        replay_age_s=replay_age_s,
        max_inflight=max_inflight,
        status_interval_s=status_interval_s,
    )
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    from edge.agent import EdgeAgent  # numpy and the outbox: loaded only when the agent runs

    try:
        agent = EdgeAgent(config)
    except sqlite3.Error as err:
        raise UserError(f"cannot open the outbox {outbox}: {err}") from None
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    console.print(
        f"housecall edge {edge_id}: {config.local_url} -> {config.upstream_url}, "
        f"outbox {outbox} (budget {disk_budget_mb:g} MB)"
    )
    agent.start()
    console.print(_status_line(agent))
    next_line = time.monotonic() + status_interval_s
    try:
        while not stop.is_set():
            agent.step(wait_s=0.02)
            if not quiet and time.monotonic() >= next_line:
                console.print(_status_line(agent))
                next_line = time.monotonic() + status_interval_s
    except sqlite3.Error as err:
        # A full or broken disk: the failed batch was not acknowledged at home, so the home
        # broker still holds it; say so in one line rather than a traceback.
        raise UserError(
            f"outbox {outbox} write failed ({err}); unacknowledged messages stay on the "
            "home broker, restart once the disk is fixed"
        ) from None
    finally:
        with contextlib.suppress(sqlite3.Error):  # the first error is the one to report
            agent.close()
    console.print(_status_line(agent, closed=True))


def _config(
    *,
    local_url: str,
    upstream_url: str,
    edge_id: str,
    outbox: Path,
    disk_budget_mb: float,
    replay_rate: float,
    replay_age_s: float,
    max_inflight: int,
    status_interval_s: float,
) -> EdgeConfig:
    from housecall.cli import UserError

    urls: dict[str, MqttUrl] = {}
    for flag, value in (("--local-url", local_url), ("--upstream-url", upstream_url)):
        try:
            urls[flag] = MqttUrl.parse(value)
        except ValueError as err:
            raise UserError(f"{flag}: {err}") from None
    if not disk_budget_mb > 0:
        raise UserError(f"--disk-budget-mb must be positive, got {disk_budget_mb:g}")
    if not status_interval_s > 0:
        raise UserError(f"--status-interval-s must be positive, got {status_interval_s:g}")
    if not replay_age_s >= 0:
        raise UserError(f"--replay-age-s must be >= 0, got {replay_age_s:g}")
    if outbox.is_dir():
        raise UserError(f"--outbox {outbox} is a directory; give a file path")
    if not outbox.parent.exists():
        raise UserError(f"--outbox: folder {outbox.parent} does not exist")
    try:
        from edge.agent import EdgeConfig

        return EdgeConfig(
            local_url=urls["--local-url"],
            upstream_url=urls["--upstream-url"],
            edge_id=edge_id,
            outbox_path=outbox,
            disk_budget_bytes=int(disk_budget_mb * 1024 * 1024),
            replay_rate=replay_rate,
            replay_age_s=replay_age_s,
            max_inflight=max_inflight,
            status_interval_s=status_interval_s,
        )
    except ValueError as err:
        raise UserError(str(err)) from None


def _status_line(agent: EdgeAgent, *, closed: bool = False) -> str:
    s = agent.final_status if closed and agent.final_status else agent.status()
    box = s["outbox"]
    link = "up" if s["upstream_connected"] else "DOWN"
    return (
        f"{'closed' if closed else 'edge'} upstream {link} | outbox {box['rows']} rows "
        f"{box['bytes'] / 1e6:.1f}/{box['budget_bytes'] / 1e6:.0f} MB | "
        f"accepted {sum(s['accepted'].values())} forwarded {s['forwarded']} "
        f"replayed {s['replayed']} | dropped {s['dropped']['telemetry_over_budget']} "
        f"dead letters {s['dead_letters']['total']}"
    )


def _print_report(outbox: Path, disk_budget_mb: float) -> None:
    from edge.outbox import Outbox
    from housecall.cli import UserError

    if not outbox.is_file():
        raise UserError(f"--outbox {outbox} does not exist")
    store = Outbox(outbox, budget_bytes=max(1, int(disk_budget_mb * 1024 * 1024)))
    try:
        stats = store.stats()
        table = Table(title=f"edge outbox {outbox}")
        table.add_column("counter")
        table.add_column("value", justify="right")
        table.add_row("rows waiting", str(stats.rows))
        table.add_row("bytes charged", str(stats.charged_bytes))
        for name, value in sorted(store.counters().items()):
            table.add_row(name, str(value))
        Console().print(table)
        letters = store.dead_letters(limit=10)
        if letters:
            dead = Table(title="newest dead letters")
            for column in ("topic", "reason", "detail"):
                dead.add_column(column)
            for topic, reason, detail, _ in letters:
                dead.add_row(topic, reason, detail[:80])
            Console().print(dead)
    finally:
        store.close()
