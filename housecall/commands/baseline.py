"""``housecall baseline``: cohort models as files a brand ships from one fleet to another.

* ``learn FILE``: run a healthy simulated fleet through the detectors and write what its
  cohorts learned (how the demo's shipped baseline is made; see ``--help`` for sizes);
* ``export FILE``: write the cohorts a gateway has learned (its last checkpoint in
  ``HOUSECALL_DATABASE_URL``, scope ``HOUSECALL_CLIENT_ID``);
* ``import FILE``: validate a baseline (format, detector version, checksum, every cohort's
  signals and predictions) and merge it into the gateway's checkpoint, so new units of
  those models are judged from their first day. A bad file changes nothing and is one
  line with exit code 2. Import with the gateway stopped: a running one writes its own
  models over the checkpoint at its next one.

Files ending ``.gz`` are gzip-compressed JSON; others plain JSON.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Annotated, Any

import typer

baseline_app = typer.Typer(
    name="baseline",
    help="Export, import and learn cohort baselines (learned models as files).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app)


def write_baseline(path: Path, body: dict[str, Any]) -> int:
    """Write ``body`` as (gzip'd) JSON; returns the file's size in bytes."""
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return len(data)


def read_baseline(path: Path) -> Any:
    """The parsed document, or :class:`~housecall.cli.UserError` in one line."""
    from housecall.cli import UserError

    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return json.loads(data)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, EOFError, ValueError) as err:
        raise UserError(f"{path}: not a readable baseline ({type(err).__name__}: {err})") from None


DatabaseOption = Annotated[
    str | None, typer.Option(help="the gateway's database (default: HOUSECALL_DATABASE_URL)")
]
ClientOption = Annotated[
    str | None, typer.Option(help="the gateway's client id (default: HOUSECALL_CLIENT_ID)")
]


@baseline_app.command(name="export")
def export_command(
    file: Annotated[Path, typer.Argument(help="where to write the baseline (.json or .json.gz)")],
    database_url: DatabaseOption = None,
    client_id: ClientOption = None,
) -> None:
    """Write the cohort models of a gateway's last checkpoint to FILE."""
    from detectors.checkpoint import export_baseline
    from detectors.fleet import HousecallDetector
    from gateway.checkpoints.shared import load_shared
    from gateway.db import make_engine
    from gateway.settings import load_settings
    from housecall.cli import UserError

    settings = load_settings(database_url=database_url, client_id=client_id)
    detector = HousecallDetector()
    engine = make_engine(settings.database_url)
    try:
        found = load_shared(engine, settings.client_id, detector)
    except ValueError as err:
        raise UserError(str(err)) from None
    finally:
        engine.dispose()
    if not found:
        raise UserError(
            f"no detector checkpoint of {settings.client_id} in {settings.database_url}"
        )
    body = export_baseline(detector, source=f"gateway {settings.client_id}")
    size = write_baseline(file, body)
    typer.echo(f"wrote {len(body['cohorts'])} cohorts to {file} ({size:,} bytes)")


@baseline_app.command(name="import")
def import_command(
    file: Annotated[Path, typer.Argument(help="a baseline written by export or learn")],
    database_url: DatabaseOption = None,
    client_id: ClientOption = None,
) -> None:
    """Validate FILE and merge its cohorts into the gateway's checkpoint."""
    from detectors.checkpoint import BaselineError, import_baseline
    from detectors.fleet import HousecallDetector
    from gateway.checkpoints.shared import load_shared, save_shared
    from gateway.db import make_engine
    from gateway.settings import load_settings
    from housecall.cli import UserError

    settings = load_settings(database_url=database_url, client_id=client_id)
    body = read_baseline(file)
    engine = make_engine(settings.database_url)
    try:
        detector = HousecallDetector()
        try:
            load_shared(engine, settings.client_id, detector)
        except ValueError as err:  # the gateway would refuse it at start anyway
            typer.echo(f"{err}: importing into fresh models")
            detector = HousecallDetector()
        try:
            report = import_baseline(detector, body)
        except BaselineError as err:
            raise UserError(f"{file}: {err}; nothing imported") from None
        save_shared(engine, settings.client_id, detector)
    finally:
        engine.dispose()
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.cohorts.items()))
    typer.echo(
        f"imported {kinds} cohorts from {file} ({report.replaced} replaced learned ones)"
        + (f"; units' spread taken for {', '.join(report.spreads)}" if report.spreads else "")
    )


@baseline_app.command(name="learn")
def learn_command(  # noqa: PLR0917 - typer maps each option to a parameter
    file: Annotated[Path, typer.Argument(help="where to write the baseline (.json or .json.gz)")],
    devices: Annotated[int, typer.Option(min=8, max=5000, help="healthy fleet size")] = 120,
    days: Annotated[float, typer.Option(min=1, max=120, help="days of device time")] = 21,
    seed: Annotated[int, typer.Option(help="simulator seed, apart from test seeds")] = 9001,
    ac_interval_s: Annotated[int, typer.Option(min=10, max=600, help="AC sample period")] = 60,
    washer_interval_s: Annotated[
        int, typer.Option(min=2, max=120, help="washer sample period while running")
    ] = 10,
) -> None:
    """Learn a baseline on a healthy simulated fleet (the healthy twin: no faults)."""
    from rich.progress import Progress

    from detectors.api import feed
    from detectors.checkpoint import export_baseline
    from detectors.fleet import HousecallDetector
    from edge.contract import parse_message
    from simulators.fleet import FleetConfig, simulate

    config = FleetConfig(
        devices=devices,
        days=days,
        seed=seed,
        ac_interval_s=ac_interval_s,
        washer_interval_s=washer_interval_s,
    ).healthy_twin()
    detector = HousecallDetector()
    start = config.start.timestamp()
    with Progress(transient=True) as progress:
        task = progress.add_task("learning on a healthy fleet", total=days)
        for n, message in enumerate(simulate(config)):
            feed(detector, parse_message(message.topic, message.payload).payload)
            if n % 20_000 == 0:
                progress.update(task, completed=(message.epoch_s - start) / 86400)
    source = f"healthy simulated fleet: {devices} devices x {days:g} days, seed {seed}"
    body = export_baseline(detector, source=source)
    size = write_baseline(file, body)
    typer.echo(f"wrote {len(body['cohorts'])} cohorts to {file} ({size:,} bytes)")
