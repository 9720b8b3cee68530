"""One module per ``housecall`` subcommand; each exposes ``register(app)``."""

from __future__ import annotations

import sys

NOT_BUILT_EXIT_CODE = 3


def not_built_yet(command: str, issue: str) -> None:
    """Say plainly that a command is not built yet, and exit non-zero."""
    print(f"housecall {command}: not built yet ({issue})", file=sys.stderr)
    sys.exit(NOT_BUILT_EXIT_CODE)
