"""``housecall gateway``: filled in by the gateway ingest issue."""

from __future__ import annotations

import typer

from housecall.commands import not_built_yet


def register(app: typer.Typer) -> None:
    app.command(name="gateway")(gateway_command)


def gateway_command() -> None:
    """Not built yet (the gateway ingest issue)."""
    not_built_yet("gateway", "the gateway ingest issue")
