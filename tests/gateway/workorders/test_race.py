"""Two gateway PROCESSES raising the same findings at the same moment produce one order each."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from gateway.workorders.tables import WorkOrderRow
from tests.gateway.workorders.helpers import sessions

DEVICES = 25
ROUNDS = 4
WORKERS = 2


def race_worker(url: str, barrier: Any, results: Any) -> None:
    """One 'gateway worker': at the barrier, raise the same findings as its rival."""
    from datetime import timedelta

    from gateway.db import make_engine
    from tests.gateway.workorders.helpers import T0, finding, make_service

    engine = make_engine(url)
    service, _ = make_service(engine, auto_assign=False)
    actions: dict[str, int] = {}
    for n in range(ROUNDS):
        for d in range(DEVICES):
            barrier.wait(timeout=60)
            change = service.on_finding(finding(f"ac-{d}", at=T0 + timedelta(minutes=n)))
            actions[change.action] = actions.get(change.action, 0) + 1
    actions["race_lost"] = service.counts.get("insert_race_lost", 0)
    results.put(actions)
    engine.dispose()


@pytest.mark.slow
def test_two_processes_racing_open_one_order(engine: Engine, db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=race_worker, args=(db_url, barrier, results)) for _ in range(2)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    with sessions(engine)() as s:
        rows = s.execute(
            select(
                WorkOrderRow.device_id, func.count(), func.sum(WorkOrderRow.occurrences)
            ).group_by(WorkOrderRow.device_id)
        ).all()
    assert len(rows) == DEVICES
    assert all(count == 1 for _, count, _ in rows)  # never a duplicate
    assert all(total == WORKERS * ROUNDS for _, _, total in rows)  # no update lost
    opened = sum(o.get("opened", 0) for o in outcomes)
    assert opened == DEVICES
    print("race outcomes:", outcomes)
