"""``housecall evaluate``: filled in by the detectors and evaluation issue."""

from __future__ import annotations

import typer

from housecall.commands import not_built_yet


def register(app: typer.Typer) -> None:
    app.command(name="evaluate")(evaluate)


def evaluate() -> None:
    """Not built yet (the detectors and evaluation issue)."""
    not_built_yet("evaluate", "the detectors and evaluation issue")
