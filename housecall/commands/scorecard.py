"""``housecall scorecard``: provider (and technician) scorecards over a period, as a table.

Read from the gateway's database (``--database-url`` or ``HOUSECALL_DATABASE_URL``):
SLA adherence, first-time fix verified by telemetry, repeat visits, lead time consumed,
customer rating, flagged bills and the share of root causes the telemetry contradicts.
Best provider first: the order dispatch favours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command(name="scorecard")(scorecard)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def scorecard(  # noqa: PLR0917 - typer maps each flag to a parameter
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///housecall.db or postgresql://...")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="period start, UTC (default: --days before until)")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="period end, UTC (default: now)")] = None,
    days: Annotated[float, typer.Option(min=0.01, help="period length without --since")] = 90,
    technicians: Annotated[bool, typer.Option(help="also list every technician")] = False,
    policy: Annotated[
        Path | None, typer.Option(help="scorecard policy TOML (default: the shipped one)")
    ] = None,
) -> None:
    """Score service providers on what the appliances reported before and after each visit."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import sessionmaker

    from gateway.db import make_engine
    from gateway.quality.config_files import ConfigFileError
    from gateway.quality.scorecards import build_scorecards, load_scorecard_policy
    from gateway.settings import load_settings
    from housecall.cli import UserError

    settings = load_settings(database_url=database_url)
    end = (until.replace(tzinfo=UTC) if until else datetime.now(UTC)) + timedelta(microseconds=1)
    start = since.replace(tzinfo=UTC) if since else end - timedelta(days=days)
    if start >= end:
        raise UserError("--since must be before --until")
    try:
        rules = load_scorecard_policy(policy)
    except ConfigFileError as err:
        raise UserError(str(err)) from None
    engine = make_engine(settings.database_url)
    try:
        with sessionmaker(engine)() as session:
            report = build_scorecards(session, rules, start, end)
    except SQLAlchemyError as err:
        raise UserError(
            f"cannot read scorecards from {settings.database_url}: {str(err).splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()
    console = Console()
    period = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    console.print(_table(f"Providers, {period}", [c.as_json() for c in report.providers]))
    if technicians:
        console.print(_table("Technicians", [c.as_json() for c in report.technicians]))
    for card in report.providers:
        for example in card.examples[:3]:
            console.print(f"[yellow]{card.subject}[/] {example['order_id']}: {example['why']}")


def _table(title: str, cards: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for name, justify in (
        ("#", "right"),
        ("id", "left"),
        ("name", "left"),
        ("score", "right"),
        ("visits", "right"),
        ("answer SLA", "right"),
        ("fix SLA", "right"),
        ("1st-time fix", "right"),
        ("repeat", "right"),
        ("cause contradicted", "right"),
        ("lead used", "right"),
        ("rating", "right"),
        ("bills flagged", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for rank, c in enumerate(cards, start=1):
        contradicted = c["contradicted_root_cause_share"]
        table.add_row(
            str(rank),
            c["id"],
            c["name"] or "",
            _num(c["score"], 3),
            str(c["visits"]),
            _pct(c["response_sla"]),
            _pct(c["completion_sla"]),
            _pct(c["first_time_fix"]),
            _pct(c["repeat_visit_rate"]),
            f"[red]{_pct(contradicted)}[/]" if contradicted else _pct(contradicted),
            _pct(c["avg_lead_time_consumed"]),
            _num(c["avg_rating"], 1),
            _pct(c["flagged_bill_share"]),
        )
    return table
