"""``housecall`` console script: one typer app, one subcommand per module in ``commands/``.

Errors a user can make (a mistyped flag, a bad setting) end as one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.22 carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]

from gateway.settings import SettingsError
from housecall.commands import (
    baseline,
    demo,
    edge,
    evaluate,
    gateway,
    history,
    scorecard,
    simulate,
)

app = typer.Typer(
    name="housecall",
    help="Predictive maintenance for connected appliances: telemetry in, work orders out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (gateway, edge, simulate, evaluate, demo, scorecard, history, baseline):
    module.register(app)


#: The exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT).
INTERRUPTED = 130


class UserError(Exception):
    """Raised by a command for a problem the user can fix; printed as one line."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning usage and settings errors into one line."""
    try:
        code = app(args=argv, prog_name="housecall", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as err:
        print(err.format_message(), file=sys.stderr)
        sys.exit(2)
    except click_errors.UsageError as err:
        where = err.ctx.command_path if err.ctx else "housecall"
        _fail(f"{err.format_message()} (see '{where} --help')", 2)
    except click_errors.ClickException as err:
        _fail(err.format_message(), err.exit_code)
    except (SettingsError, UserError) as err:
        _fail(str(err), 2)
    except typer.Abort:
        _fail("aborted", 130)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    # Out of standalone mode typer turns Ctrl-C (and SIGTERM where a command maps it to
    # one) into a returned 130 after the command's own cleanup ran; an exit code a command
    # raised (typer.Exit) comes back the same way.
    if code == INTERRUPTED:
        _fail("interrupted", INTERRUPTED)
    if isinstance(code, int) and code:
        sys.exit(code)


def _fail(message: str, code: int) -> None:
    print(f"housecall: error: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
