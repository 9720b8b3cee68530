"""From simulated telemetry to a verified repair, and to a reopened one: the real pieces.

A seeded AC fleet (simulators) goes through the real pipeline (contract parsing,
de-duplication, storage) and the real detectors; the work-order service opens
orders from their findings, and the demo's simulated field service visits, resolves
and repairs the simulated units (one repair is botched on purpose). Fix
verification then runs on the telemetry that follows: the good repair is
``verified``, the botched one ``reopened``. No broker: the pipeline is fed directly.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from detectors.fleet import HousecallDetector
from edge.contract import Fault
from gateway.db import make_engine
from gateway.pipeline import Pipeline, RawMessage
from gateway.service_loop import ServiceLoop
from gateway.storage import BatchStorage
from gateway.workorders.service import ServiceConfig
from housecall.demo.field import DemoFieldService, Repairable, seed_technicians
from simulators.fleet import FleetConfig, FleetRun
from simulators.scenario import FaultSpec, Scenario

FLEET = FleetConfig(devices=10, days=30, seed=11, ac_share=1.0, ac_interval_s=300)
FAULTS = tuple(
    FaultSpec(device=n, fault=Fault.CONDENSER_FOULING, onset_day=4.0, ramp_days=9.0)
    for n in range(3)
)


@pytest.mark.slow
def test_repaired_unit_is_verified_and_botched_repair_reopens(tmp_path: Path) -> None:
    config = replace(FLEET, scenario=Scenario(faults=FAULTS, explicit_only=True))
    run = FleetRun(config)
    plans: dict[str, Repairable] = {run.devices[p.device].device_id: p for p in run.plans}
    engine = make_engine(f"sqlite:///{tmp_path / 'housecall.db'}")
    detector = HousecallDetector()
    loop = ServiceLoop(
        engine,
        detector=detector,
        config=ServiceConfig(
            verify_days=3.0, recovery_timeout=timedelta(days=4), auto_assign=False
        ),
    )
    seed_technicians(loop.service.sessions, [d.region for d in run.devices])
    field = DemoFieldService(loop.service, plans, botch_first_repair_of=2)
    pipeline = Pipeline(
        BatchStorage(engine, gateway_id="e2e", delivery=None), detector=detector, sink=field
    )
    pipeline.open()
    batch: list[RawMessage] = []
    for message in run.messages():
        batch.append(RawMessage(message.topic, message.payload))
        if len(batch) == 1000:
            pipeline.process(batch)
            batch = []
    pipeline.process(batch)

    orders = {o["device_id"]: o for o in loop.service.list_orders(limit=100)[0]}
    assert len(field.botched) == 1, f"fewer than two fouled condensers were caught: {orders}"
    botched = field.botched[0]
    good = next(d for d in orders if d != botched and d in plans)
    assert orders[good]["status"] == "verified", loop.service.audit(orders[good]["id"])
    assert orders[good]["reopened"] == 0
    trail = loop.service.audit(orders[botched]["id"])
    actions = [entry["action"] for entry in trail]
    assert "reopened" in actions, trail
    assert actions.index("reopened") > actions.index("resolved")
    assert trail[actions.index("reopened")]["actor"] == "telemetry"
    assert field.errors == []
