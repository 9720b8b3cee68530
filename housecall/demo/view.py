"""What the demo shows: a live table of orders as they open, then the summary tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, NewLine
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from housecall.demo.run import DemoResult, Progress

STATUS_STYLE = {
    "open": "yellow",
    "assigned": "cyan",
    "resolved": "blue",
    "verified": "green",
    "false_alarm": "red",
    "closed": "dim",
}


def _lead(notice: datetime | None, opened_at: str) -> Text:
    if notice is None:
        return Text("customer never noticed", style="dim")
    opened = datetime.fromisoformat(opened_at)
    days = (notice - opened).total_seconds() / 86400
    return Text(f"{days:+.1f} d", style="green" if days > 0 else "red")


def live_view(progress: Progress, notice_at: dict[str, datetime | None]) -> Group:
    """The order table as it grows, under a progress line in device time."""
    with progress.lock:
        orders = sorted(progress.orders.values(), key=lambda o: o["opened_at"])
        notices = len(progress.notices)
    now = progress.device_now.strftime("%Y-%m-%d %H:%M") if progress.device_now else "starting"
    head = Text.assemble(
        ("device time ", "bold"),
        (now, "cyan"),
        f"   messages {progress.published:,} published / {progress.stored:,} stored",
        f"   notices {notices}   orders {len(orders)}",
    )
    table = Table(title="Work orders as they open", expand=False)
    for column in ("opened (device time)", "device", "fault", "confidence", "severity"):
        table.add_column(column)
    table.add_column("status")
    table.add_column("lead time vs customer notice", justify="right")
    for order in orders[-18:]:
        table.add_row(
            order["opened_at"].replace("T", " ")[:16],
            order["device_id"],
            order["fault"],
            f"{order['confidence']:.2f}",
            order["severity"],
            Text(order["status"], style=STATUS_STYLE.get(order["status"], "")),
            _lead(notice_at.get(order["device_id"]), order["first_seen_at"]),
        )
    bar = ProgressBar(total=1.0, completed=progress.fraction, width=60)
    return Group(head, bar, NewLine(), table)


def summary_tables(result: DemoResult) -> list[Any]:
    orders = Table(title="Work orders")
    for column in ("device", "fault", "true fault", "opened", "lead time", "status", "reopened"):
        orders.add_column(column)
    for o in result.orders:
        lead = o["lead_days"]
        orders.add_row(
            o["device_id"],
            o["fault"],
            Text(o["true_fault"] or "none", style="green" if o["correct"] else "red"),
            o["opened_at"][:16].replace("T", " "),
            "not noticed" if lead is None else f"{lead:+.1f} d",
            Text(o["status"], style=STATUS_STYLE.get(o["status"], "")),
            str(o["reopened"]),
        )
    faults = Table(title="Injected faults (ground truth)")
    for column in ("device", "fault", "notice sent", "order opened", "customer would notice"):
        faults.add_column(column)
    for t in result.truth:
        notice = t["notice_at"]
        faults.add_row(
            t["device_id"],
            t["fault"],
            "yes" if t["noticed"] else "-",
            Text("yes", style="green")
            if t["caught"]
            else Text("no: the customer fixed it", style="green")
            if t["self_fixed"]
            else Text("missed", style="red"),
            notice.strftime("%Y-%m-%d %H:%M") if notice else "not within the run",
        )
    caught = sum(1 for t in result.truth if t["caught"] or t["self_fixed"])
    leads = [o["lead_days"] for o in result.orders if o["correct"] and o["lead_days"] is not None]
    median = sorted(leads)[len(leads) // 2] if leads else None
    totals = Table(title="Summary", show_header=False)
    totals.add_column()
    totals.add_column(justify="right")
    rows = [
        ("device time simulated", f"{result.device_days:g} days"),
        ("messages through the broker", f"{result.messages:,} ({result.stored:,} stored)"),
        ("wall time", f"{result.wall_s:.0f} s"),
        ("faults injected / caught (order or self-fix notice)", f"{len(result.truth)} / {caught}"),
        ("orders opened", str(len(result.orders))),
        ("median lead time before the customer would notice", _days(median)),
        (
            "self-fix notices sent / fixed by the customer",
            f"{result.notices} / {result.self_fixed}",
        ),
        ("repairs verified from telemetry", str(result.verified)),
        ("orders reopened (fault persisted)", str(result.reopened)),
        ("false alarms", str(result.false_alarms)),
    ]
    for name, value in rows:
        totals.add_row(name, value)
    return [orders, faults, totals]


def _days(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} days"
