"""Work-order service costs, measured in one run (SQLite in a temp dir, PostgreSQL if installed).

Prints:
- the sink's cost per accepted message that carries no signal (the common case: the
  pipeline calls ``handle`` for every telemetry/event message), with and without
  devices under fix verification;
- findings per second through ``open_or_update`` (new orders, then repeats that update);
- the same on a throwaway PostgreSQL cluster when its binaries are installed.

Run: ``.venv/bin/python -m benchmarks.workorders_bench [--store sqlite|postgresql|both]
[--orders 500] [--messages 200000]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from detectors.api import Finding
from edge.contract import Evidence, Fault, Kind, Severity
from gateway.db import create_schema, make_engine
from gateway.workorders import tables
from gateway.workorders.service import ServiceConfig, WorkOrderService

T0 = datetime(2026, 7, 1, tzinfo=UTC)


class Dev:
    def __init__(self, device_id: str) -> None:
        self.device_id = device_id


def finding(device_id: str, at: datetime) -> Finding:
    return Finding(
        device_id=device_id,
        kind=Kind.AC,
        fault=Fault.REFRIGERANT_LEAK,
        confidence=0.9,
        severity=Severity.HIGH,
        observed_at=at,
        evidence=(Evidence(signal="superheat_k", baseline=5.0, observed=11.0, unit="K"),),
    )


def bench(url: str, label: str, orders: int = 500, messages: int = 200_000) -> dict[str, float]:
    """Measure one store, print its two lines, and return the figures."""
    engine = make_engine(url)
    create_schema(engine)
    service = WorkOrderService(
        sessionmaker(engine, expire_on_commit=False),
        config=ServiceConfig(auto_assign=False, verify_days=1000.0),
    )
    devices = [Dev(f"ac-{n:06d}") for n in range(10_000)]
    started = time.perf_counter()
    for n in range(messages):
        service.handle(devices[n % len(devices)], T0 + timedelta(seconds=n), ())
    idle_us = (time.perf_counter() - started) / messages * 1e6

    started = time.perf_counter()
    for n in range(orders):
        service.on_finding(finding(devices[n].device_id, T0))
    open_rate = orders / (time.perf_counter() - started)
    started = time.perf_counter()
    for n in range(orders):
        service.on_finding(finding(devices[n].device_id, T0 + timedelta(hours=1)))
    update_rate = orders / (time.perf_counter() - started)

    for n in range(100):  # 100 orders under verification
        order_id = service.list_orders(device_id=devices[n].device_id)[0][0]["id"]
        with service.sessions.begin() as s:
            s.execute(
                update(tables.WorkOrderRow)
                .where(tables.WorkOrderRow.id == order_id)
                .values(status="resolved")
            )
    service.reload_watches()
    started = time.perf_counter()
    for n in range(messages):
        service.handle(devices[n % 1000], T0 + timedelta(days=1, seconds=n), ())
    watched_us = (time.perf_counter() - started) / messages * 1e6
    engine.dispose()
    print(
        f"{label:<11} sink per message, no signal: {idle_us:6.2f} us   "
        f"(10% of devices under verification: {watched_us:6.2f} us)"
    )
    print(
        f"{label:<11} findings -> new orders: {open_rate:7.0f}/s   "
        f"findings -> updates of the open order: {update_rate:7.0f}/s"
    )
    return {
        "sink_us": idle_us,
        "sink_watched_us": watched_us,
        "opened_per_s": open_rate,
        "updated_per_s": update_rate,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Measure the chosen stores, print, and return the figures, keyed ``<store>_<figure>``.

    ``--store both`` (the default) skips PostgreSQL when it cannot start; asked for alone,
    a PostgreSQL that cannot start is an error.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="housecall-wo-bench-"))
    workdir.chmod(0o755)  # PostgreSQL runs as its own user
    try:
        if args.store in ("sqlite", "both"):
            measured = bench(
                f"sqlite:///{workdir / 'bench.db'}", "SQLite", args.orders, args.messages
            )
            figures.update({f"sqlite_{name}": value for name, value in measured.items()})
        if args.store == "sqlite":
            return figures
        from tests.servers import Postgres

        try:
            server = Postgres(workdir / "pg").start()
        except Exception as err:  # no PostgreSQL binaries here
            if args.store == "postgresql":
                raise
            print(f"PostgreSQL  skipped: {err}")
            return figures
        try:
            url = server.create_database("bench")
            measured = bench(url, "PostgreSQL", args.orders, args.messages)
            figures.update({f"postgresql_{name}": value for name, value in measured.items()})
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
