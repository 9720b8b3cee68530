"""The service loop's Prometheus view reads the store at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from gateway.workorders.metrics import ServiceLoopCollector
from tests.gateway.workorders.helpers import finding, make_service


def test_metrics_count_orders_changes_and_deliveries(engine: Engine) -> None:
    service, _ = make_service(engine, auto_assign=False)
    registry = CollectorRegistry()
    registry.register(ServiceLoopCollector(service))
    first = service.on_finding(finding("ac-1")).order_id or ""
    service.on_finding(finding("ac-1"))
    service.on_finding(finding("ac-2"))
    service.transition(first, "cancelled", actor="admin")
    text = generate_latest(registry).decode()
    assert 'housecall_work_order_changes_total{action="opened"} 2.0' in text
    assert 'housecall_work_order_changes_total{action="updated"} 1.0' in text
    assert 'housecall_work_orders{status="open"} 1.0' in text
    assert 'housecall_work_orders{status="cancelled"} 1.0' in text
    assert "housecall_sla_breached_orders 0.0" in text
