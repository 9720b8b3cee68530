"""Prometheus view of the service loop, read at scrape time (nothing to keep in step).

- ``housecall_work_order_changes_total{action}``: what findings, recoveries and the
  loop did (opened, updated, reopened, noticed, self_fixed, escalated, verified,
  insert_race_lost, notice_publish_failed...), counted by this process;
- ``housecall_work_orders{status}``: orders in the store by status;
- ``housecall_webhook_deliveries{status}``: the outbox by status (``dead``: gave up
  after the last retry, kept and re-deliverable through the API);
- ``housecall_sla_breached_orders``: orders past due whose SLA clock still runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from gateway.workorders.service import WorkOrderService
from gateway.workorders.sla import SLA_STOPPED
from gateway.workorders.tables import WebhookOutboxRow, WorkOrderRow


class ServiceLoopCollector(Collector):
    def __init__(self, service: WorkOrderService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        changes = CounterMetricFamily(
            "housecall_work_order_changes",
            "What signals and the service loop did to work orders (this process)",
            labels=["action"],
        )
        for action, count in sorted(self.service.counts.items()):
            changes.add_metric([action], count)
        yield changes
        orders = GaugeMetricFamily(
            "housecall_work_orders", "Work orders in the store by status", labels=["status"]
        )
        deliveries = GaugeMetricFamily(
            "housecall_webhook_deliveries", "Webhook outbox rows by status", labels=["status"]
        )
        with self.service.sessions() as session:
            for status, count in session.execute(
                select(WorkOrderRow.status, func.count()).group_by(WorkOrderRow.status)
            ):
                orders.add_metric([status], count)
            for status, count in session.execute(
                select(WebhookOutboxRow.status, func.count()).group_by(WebhookOutboxRow.status)
            ):
                deliveries.add_metric([status], count)
            breached = session.scalar(
                select(func.count())
                .select_from(WorkOrderRow)
                .where(
                    WorkOrderRow.sla_breached_wall_at.is_not(None),
                    WorkOrderRow.status.not_in(SLA_STOPPED),
                )
            )
        yield orders
        yield deliveries
        yield GaugeMetricFamily(
            "housecall_sla_breached_orders",
            "Orders past their SLA deadline, still not fixed",
            value=breached or 0,
        )
