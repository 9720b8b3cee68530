"""The SLA sweep flags a breached order once, even when the sweeper and the API sweep together."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from gateway.workorders.tables import AuditRow
from tests.gateway.workorders.helpers import finding, make_service, sessions

SWEEPERS = 4


def test_concurrent_sweeps_flag_each_order_once(engine: Engine) -> None:
    now = [datetime(2026, 7, 14, 8, tzinfo=UTC)]
    service, _ = make_service(engine, auto_assign=False)
    service.clock = lambda: now[0]
    order_ids = [service.on_finding(finding(f"ac-{i}")).order_id or "" for i in range(5)]
    now[0] += timedelta(hours=25)  # past the 24 h of "high"
    barrier = threading.Barrier(SWEEPERS)
    flagged: list[str] = []

    def sweep() -> None:
        barrier.wait(timeout=30)
        flagged.extend(service.sweep_sla())  # the loop's sweeper and API calls alike

    threads = [threading.Thread(target=sweep) for _ in range(SWEEPERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(flagged) == sorted(order_ids)
    with sessions(engine)() as s:
        breaches = s.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.action == "sla_breached")
        )
    assert breaches == len(order_ids)
    assert len(service.sla_breaches()) == len(order_ids)
