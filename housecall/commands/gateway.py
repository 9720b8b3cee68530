"""``housecall gateway``: run ingest, pipeline and HTTP API in the foreground until SIGTERM/SIGINT.

Settings come from the environment (``HOUSECALL_*``, contract section 5) with
these flags on top; a bad value is one line and exit code 2. With
``HOUSECALL_MQTT_URL`` unset an embedded broker is started (Mosquitto when
installed, else amqtt in-process); with ``HOUSECALL_INFLUX_URL`` unset telemetry
is kept in the embedded SQL store.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.settings import load_settings

if TYPE_CHECKING:
    from detectors.api import FleetDetector

#: The detectors the gateway runs unless told otherwise (``--detector none`` runs none).
DEFAULT_DETECTOR = "detectors.fleet:HousecallDetector"


def register(app: typer.Typer) -> None:
    app.command(name="gateway")(gateway_command)


def gateway_command(  # noqa: PLR0917 - typer maps each flag to a parameter
    mqtt_url: Annotated[
        str | None, typer.Option(help="mqtt://user:pass@host:1883 (default: embedded broker)")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///housecall.db or postgresql://...")
    ] = None,
    influx_url: Annotated[
        str | None, typer.Option(help="InfluxDB v2 URL (default: embedded store)")
    ] = None,
    influx_token: Annotated[str | None, typer.Option(help="InfluxDB token")] = None,
    influx_org: Annotated[str | None, typer.Option(help="InfluxDB organisation")] = None,
    influx_bucket: Annotated[str | None, typer.Option(help="InfluxDB bucket")] = None,
    api_host: Annotated[str | None, typer.Option(help="address the HTTP API binds")] = None,
    api_port: Annotated[int | None, typer.Option(help="HTTP API, UI and /metrics port")] = None,
    admin_token: Annotated[str | None, typer.Option(help="bearer token with full access")] = None,
    client_id: Annotated[str | None, typer.Option(help="stable MQTT client id")] = None,
    max_payload_bytes: Annotated[
        int | None, typer.Option(help="larger payloads become dead letters")
    ] = None,
    spool_dir: Annotated[Path | None, typer.Option(help="time-series disk spool folder")] = None,
    spool_max_bytes: Annotated[int | None, typer.Option(help="disk spool size bound")] = None,
    detector: Annotated[
        str | None,
        typer.Option(help="FleetDetector factory as module:attribute, or 'none'"),
    ] = DEFAULT_DETECTOR,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING...")] = "INFO",
) -> None:
    """Run the gateway in the foreground: MQTT ingest, storage, detectors, HTTP API."""
    from sqlalchemy.exc import OperationalError

    from gateway.quality.config_files import ConfigFileError
    from housecall.cli import UserError
    from housecall.compose import build_gateway

    settings = load_settings(
        mqtt_url=mqtt_url,
        database_url=database_url,
        influx_url=influx_url,
        influx_token=influx_token,
        influx_org=influx_org,
        influx_bucket=influx_bucket,
        api_host=api_host,
        api_port=api_port,
        admin_token=admin_token,
        client_id=client_id,
        max_payload_bytes=max_payload_bytes,
        spool_dir=spool_dir,
        spool_max_bytes=spool_max_bytes,
    )
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        # The service loop (work orders, dispatch, API keys, webhooks) rides on the gateway.
        gateway, service_loop = build_gateway(settings, detector=load_detector(detector))
        service_loop.start()
        try:
            gateway.run_forever(stop)
        finally:
            service_loop.stop()
    except ConfigFileError as err:  # a price list, warranty policy or roster with errors
        raise UserError(str(err)) from None
    except OperationalError as err:  # the SQL store is unreachable or refuses us
        reason = str(err.orig or err).strip().splitlines()[0]
        raise UserError(f"cannot use the database {settings.database_url!r}: {reason}") from None


def load_detector(spec: str | None) -> FleetDetector | None:
    """Instantiate ``module:attribute`` (a class or factory taking no arguments)."""
    if not spec or spec.lower() == "none":
        return None
    from housecall.cli import UserError

    module_name, _, attribute = spec.partition(":")
    try:
        factory: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise UserError(f"--detector {spec!r}: {err}") from None
    detector: FleetDetector = factory()
    return detector
