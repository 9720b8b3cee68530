"""``housecall edge``: filled in by the edge agent issue."""

from __future__ import annotations

import typer

from housecall.commands import not_built_yet


def register(app: typer.Typer) -> None:
    app.command(name="edge")(edge_command)


def edge_command() -> None:
    """Not built yet (the edge agent issue)."""
    not_built_yet("edge", "the edge agent issue")
