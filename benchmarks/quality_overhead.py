"""What service quality costs on the work-order path, and how fast a history verifies.

    .venv/bin/python -m benchmarks.quality_overhead [--orders 300] [--postgres]

Runs the same work (open an order from a finding, assign, accept, schedule: four audited
changes each) through a plain :class:`WorkOrderService` and through one with the quality
layer attached (hash-chain append, terms at opening, progress-notice outbox, in the
same transactions), in one process on fresh databases, and prints the ratio. Then
verifies every device chain and prints records verified per second. SQLite by default;
``--postgres`` starts a throwaway PostgreSQL cluster (tests.servers) and uses it too.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from detectors.api import Finding
from edge.contract import Evidence, Fault, Kind, Severity
from gateway.db import create_schema, make_engine
from gateway.device_table import Device
from gateway.quality import history
from gateway.quality import tables as _quality_tables  # noqa: F401 - registers the tables
from gateway.quality.service import QualityService
from gateway.workorders import tables as _workorder_tables  # noqa: F401
from gateway.workorders.service import ServiceConfig, WorkOrderService
from gateway.workorders.tables import ProviderRow, TechnicianRow

T0 = datetime(2026, 7, 14, 13, 5, tzinfo=UTC)


def seed(engine: Engine, orders: int) -> None:
    with sessionmaker(engine).begin() as session:
        session.add(
            ProviderRow(
                id="sp", name="sp", skills=["ac"], regions=["*"], rating=4, created_wall_at=T0
            )
        )
        session.flush()
        session.add(
            TechnicianRow(
                id="t1",
                name="Li Wei",
                provider_id="sp",
                skills=["ac"],
                regions=[],
                daily_capacity=100_000,
                rating=4,
                active=True,
                created_wall_at=T0,
            )
        )
        for i in range(orders):
            session.add(
                Device(
                    device_id=f"ac-{i}",
                    kind="ac",
                    brand="Aurora",
                    model="AUR-S35-INV",
                    region="CN-32",
                    installed_on=date(2025, 1, 1),
                    warranty_until=date(2028, 1, 1),
                    last_seen_at=T0,
                )
            )


def run(engine: Engine, orders: int, *, quality: bool) -> float:
    service = WorkOrderService(
        sessionmaker(engine, expire_on_commit=False), config=ServiceConfig(auto_assign=False)
    )
    if quality:
        QualityService(service).attach()
    evidence = (Evidence(signal="superheat_k", baseline=5.0, observed=11.0, unit="K"),)
    start = time.perf_counter()
    for i in range(orders):
        order_id = (
            service.on_finding(
                Finding(
                    f"ac-{i}", Kind.AC, Fault.REFRIGERANT_LEAK, 0.8, Severity.HIGH, T0, evidence
                )
            ).order_id
            or ""
        )
        service.transition(order_id, "assigned", actor="dispatch", technician_id="t1")
        service.transition(order_id, "accepted", actor="t1")
        service.transition(order_id, "scheduled", actor="t1", scheduled_for=T0 + timedelta(1))
    return time.perf_counter() - start


def measure(label: str, make: Callable[[], Engine], orders: int) -> dict[str, float]:
    """Measure one store, print its lines, and return the figures."""
    results = {}
    for quality in (False, True):
        engine: Engine = make()
        create_schema(engine)
        seed(engine, orders)
        results[quality] = run(engine, orders, quality=quality)
        if quality:
            start = time.perf_counter()
            records = 0
            with sessionmaker(engine)() as session:
                for i in range(orders):
                    report = history.verify_chain(session, f"ac-{i}")
                    assert report.ok
                    records += report.records
            verify_s = time.perf_counter() - start
        engine.dispose()
    changes = orders * 4
    plain, with_quality = results[False], results[True]
    print(f"{label}: {changes} audited changes")
    print(f"  plain work orders:   {changes / plain:8.0f} changes/s")
    print(f"  with quality layer:  {changes / with_quality:8.0f} changes/s")
    print(f"  cost ratio (quality / plain): {with_quality / plain:.2f}x")
    print(f"  chain verification:  {records / verify_s:8.0f} records/s ({records} records)")
    return {
        "plain_changes_per_s": changes / plain,
        "quality_changes_per_s": changes / with_quality,
        "cost_ratio": with_quality / plain,
        "verify_records_per_s": records / verify_s,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Measure, print, and return the figures, keyed ``<store>_<figure>``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="housecall-quality-bench-"))
    counter = iter(range(1000))
    figures: dict[str, float] = {}
    try:
        measured = measure(
            "SQLite",
            lambda: make_engine(f"sqlite:///{workdir / f'q{next(counter)}.db'}"),
            args.orders,
        )
        figures.update({f"sqlite_{name}": value for name, value in measured.items()})
        if args.postgres:
            from tests.servers import Postgres, scratch_dir

            server = Postgres(scratch_dir("pg-quality-bench")).start()
            try:
                measured = measure(
                    "PostgreSQL", lambda: make_engine(server.create_database()), args.orders
                )
                figures.update({f"postgresql_{name}": value for name, value in measured.items()})
            finally:
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
