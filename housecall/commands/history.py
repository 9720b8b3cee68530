"""``housecall history DEVICE``: show a device's service history and verify its hash chain.

Exit code 0 when every link holds, 1 when a record was changed, removed or reordered
(the first broken link is named), 2 for a usage or settings error.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command(name="history")(history_command)


def history_command(
    device_id: Annotated[str, typer.Argument(help="the appliance's device id")],
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///housecall.db or postgresql://...")
    ] = None,
    last: Annotated[int, typer.Option(min=0, help="records to show (0: none)")] = 50,
) -> None:
    """Verify a device's tamper-evident service history; report the first broken link."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import sessionmaker

    from gateway.db import make_engine
    from gateway.quality import history
    from gateway.settings import load_settings
    from housecall.cli import UserError

    settings = load_settings(database_url=database_url)
    engine = make_engine(settings.database_url)
    try:
        with sessionmaker(engine)() as session:
            rows = history.records(session, device_id)
            report = history.verify_chain(session, device_id)
            shown = [history.record_json(r) for r in rows[-last:]] if last else []
    except SQLAlchemyError as err:
        raise UserError(
            f"cannot read the history from {settings.database_url}: {str(err).splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()
    console = Console()
    if shown:
        table = Table(title=f"Service history of {device_id}")
        for name in ("#", "event", "order", "actor", "at (wall)", "device time", "hash"):
            table.add_column(name)
        for r in shown:
            mark = "[red]" if report.broken_at == r["position"] else ""
            table.add_row(
                f"{mark}{r['position']}",
                r["event"],
                r["order_id"] or "",
                r["actor"],
                (r["at"] or "")[:19],
                (r["device_at"] or "")[:19],
                r["hash"][:12],
            )
        console.print(table)
    if report.ok:
        console.print(f"[green]chain intact[/]: {report.records} records, head {report.head_hash}")
        return
    console.print(
        f"[red]chain broken at record {report.broken_at}[/] of {report.records}: {report.reason}"
    )
    raise SystemExit(1)
