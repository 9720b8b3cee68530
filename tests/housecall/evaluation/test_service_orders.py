"""The evaluation's orders come from the gateway's real work-order service.

Hand-fed cases pin what the sink does with device time and births; the slow test is
the proof that matters: for one seeded fleet, ``housecall evaluate``'s fast path opens
exactly the orders that the gateway itself opens, i.e. its real ``Pipeline`` (contract
parsing, de-duplication, embedded SQLite storage, detectors) with the service loop's
``WorkOrderService`` as the sink, fed the same message stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.api import Finding, Recovery
from detectors.fleet import HousecallDetector
from edge.contract import Birth, Fault, Kind, Severity
from gateway.db import make_engine
from gateway.pipeline import Pipeline, RawMessage
from gateway.service_loop import ServiceLoop
from gateway.storage import BatchStorage
from gateway.workorders.views import iso
from housecall.evaluation.runner import evaluate
from housecall.evaluation.scoring import OpenedOrder
from housecall.evaluation.service_orders import ServiceOrders
from simulators.fleet import FleetConfig, FleetRun
from simulators.scenario import FaultSpec, Scenario

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def finding(
    device: str, fault: Fault, at: datetime, *, severity: Severity = Severity.MEDIUM
) -> Finding:
    return Finding(device, Kind.AC, fault, 0.9, severity, at, predicted_failure_at=day(30))


def ac_birth(device_id: str) -> Birth:
    return Birth.model_validate(
        {
            "schema": "housecall.birth/1",
            "device_id": device_id,
            "kind": "ac",
            "brand": "Aurora",
            "model": "AUR-S35-INV",
            "refrigerant": "R32",
            "region": "CN-32",
            "warranty_until": "2027-05-02",
            "ts": T0.isoformat(),
        },
        strict=False,
    )


@pytest.fixture
def sink() -> Iterator[ServiceOrders]:
    with ServiceOrders() as orders:
        yield orders


def test_a_self_fix_fault_becomes_an_order_when_its_grace_runs_out_in_device_time(
    sink: ServiceOrders,
) -> None:
    sink.handle("ac-1", day(1), [finding("ac-1", Fault.DIRTY_FILTER, day(1))])
    sink.handle("ac-1", day(3.9), [])
    assert sink.orders() == []
    sink.handle("ac-1", day(4.1), [])
    assert [(o.fault, o.opened_at) for o in sink.orders()] == [(Fault.DIRTY_FILTER, day(4.1))]
    # the customer cleaned the filter of ac-2 in time: no order, however long we wait
    sink.handle("ac-2", day(1), [finding("ac-2", Fault.DIRTY_FILTER, day(1))])
    sink.handle("ac-2", day(2), [Recovery("ac-2", Fault.DIRTY_FILTER, day(2), day(1.5))])
    sink.handle("ac-2", day(10), [])
    assert [o.device_id for o in sink.orders()] == ["ac-1"]
    assert sink.actions == {"noticed": 2, "escalated": 1, "self_fixed": 1}


def test_a_critical_self_fix_finding_opens_an_order_at_once(sink: ServiceOrders) -> None:
    urgent = finding("ac-1", Fault.DIRTY_FILTER, day(1), severity=Severity.CRITICAL)
    sink.handle("ac-1", day(1), [urgent])
    assert [o.opened_at for o in sink.orders()] == [day(1)]


def test_a_recovery_leaves_the_order_to_the_technician_and_a_return_updates_it(
    sink: ServiceOrders,
) -> None:
    """Unlike the old in-memory mirror, a Recovery does not close the order: people do."""
    fouling = Fault.CONDENSER_FOULING
    sink.handle("ac-1", day(1), [finding("ac-1", fouling, day(1))])
    sink.handle("ac-1", day(3), [Recovery("ac-1", fouling, day(3), day(2.5))])
    later = Finding("ac-1", Kind.AC, fouling, 0.6, Severity.HIGH, day(4))
    sink.handle("ac-1", day(4), [later])
    assert sink.orders() == [
        OpenedOrder("ac-1", fouling, day(1), 0.6, closed_at=None, predicted_failure_at=day(30))
    ]
    assert sink.actions == {"opened": 1, "updated": 1}


def test_a_birth_registers_the_device_so_orders_carry_its_identity(sink: ServiceOrders) -> None:
    sink.on_birth(ac_birth("ac-1"))
    sink.handle("ac-1", day(1), [finding("ac-1", Fault.REFRIGERANT_LEAK, day(1))])
    (view,), _ = sink.service.list_orders()
    assert (view["brand"], view["model"], view["region"], view["warranty"]) == (
        "Aurora",
        "AUR-S35-INV",
        "CN-32",
        "in_warranty",
    )
    assert view["recommended_parts"], "the parts catalogue needs the device's model"


# Seed 5's 12 devices: ac-000002 and wm-000001 get faults that show within three days
# (a critical drain clog skips the self-fix notice); the default mix adds others, among
# them a fan that fails on day 2, and leaves healthy units that must not get an order.
# A simulated day costs ~3 s whatever the fleet size, so the self-fix grace (3 days after a
# finding that needs a week of learning) is covered by the hand-fed cases above.
FLEET = FleetConfig(
    devices=12,
    days=3,
    seed=5,
    ac_share=0.7,
    scenario=Scenario(
        faults=(
            FaultSpec(
                device="ac-000002", fault=Fault.OUTDOOR_FAN_FAILURE, onset_day=1.5, sudden=True
            ),
            FaultSpec(
                device="wm-000001", fault=Fault.DRAIN_PUMP_CLOG, onset_day=0.3, ramp_days=1.0
            ),
        )
    ),
)


def gateway_orders(config: FleetConfig, tmp_path: Path) -> tuple[list[dict[str, Any]], Any]:
    """What the gateway opens: its Pipeline and service loop on one SQLite file, as deployed."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    detector = HousecallDetector()
    loop = ServiceLoop(engine, detector=detector)  # creates the schema, attaches quality
    pipeline = Pipeline(
        BatchStorage(engine, gateway_id="gw-eval-check"), detector=detector, sink=loop.service
    )
    pipeline.open()
    batch: list[RawMessage] = []
    received = dead = 0
    for message in FleetRun(config).messages():
        batch.append(RawMessage(message.topic, message.payload))
        if len(batch) == 500:
            result = pipeline.process(batch)
            received, dead = received + result.received, dead + sum(result.dead_letters.values())
            batch = []
    result = pipeline.process(batch)
    received, dead = received + result.received, dead + sum(result.dead_letters.values())
    orders, _ = loop.service.list_orders(limit=1000)
    counts = dict(loop.service.counts)
    engine.dispose()
    return orders, (received, dead, counts)


@pytest.mark.slow
def test_the_evaluation_opens_the_orders_the_gateway_opens(tmp_path: Path) -> None:
    result = evaluate(FLEET)
    views, (received, dead, counts) = gateway_orders(FLEET, tmp_path)

    assert received == result.messages > 10_000
    assert dead == result.rejected == 0
    assert len(result.misses) == result.report.gradual.missed
    faulty = {(t.device_id, t.fault) for t in result.truths}
    assert {(o.device_id, o.fault) for o in result.orders} & faulty, "no true fault got an order"

    def key(row: tuple[str, str, str | None, float, str | None]) -> tuple[str | None, str, str]:
        return row[2], row[0], row[1]

    evaluated = sorted(
        (
            (
                o.device_id,
                o.fault.value,
                iso(o.opened_at),
                round(o.confidence, 4),
                iso(o.predicted_failure_at),
            )
            for o in result.orders
        ),
        key=key,
    )
    opened = sorted(
        (
            (v["device_id"], v["fault"], v["opened_at"], v["confidence"], v["predicted_failure_at"])
            for v in views
        ),
        key=key,
    )
    assert evaluated == opened
    assert result.order_actions == counts
