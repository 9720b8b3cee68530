"""``housecall simulate``: filled in by the simulators issue."""

from __future__ import annotations

import typer

from housecall.commands import not_built_yet


def register(app: typer.Typer) -> None:
    app.command(name="simulate")(simulate)


def simulate() -> None:
    """Not built yet (the simulators issue)."""
    not_built_yet("simulate", "the simulators issue")
