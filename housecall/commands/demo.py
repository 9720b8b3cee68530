"""``housecall demo``: filled in by the work-orders issue."""

from __future__ import annotations

import typer

from housecall.commands import not_built_yet


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)


def demo() -> None:
    """Not built yet (the work-orders issue)."""
    not_built_yet("demo", "the work-orders issue")
