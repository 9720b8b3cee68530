"""The composition root: every part of a running gateway, built from settings in one place.

``housecall gateway``, the demo and the end-to-end tests all assemble the gateway here,
so there is one answer to "what runs, and what is connected to what":

* one SQL engine for everything (ingest, work orders, quality, detector checkpoints),
  its schema migrated once (Alembic, :mod:`gateway.schema`);
* the :class:`~gateway.runtime.Gateway` (broker connection, pipeline, time-series
  delivery, HTTP API) with the detectors, their checkpointer and the work-order
  service as its signal sink;
* the :class:`~gateway.service_loop.ServiceLoop` (work orders, quality, webhooks, SLA,
  notices), whose technicians' outcomes reach the detectors through the pipeline, so they
  are journaled and learned in one order with the telemetry.

Start the gateway, then ``loop.start()``; stop the loop, then the gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from detectors.api import FleetDetector, NullDetector, Outcome
from edge.mqtt_url import MqttUrl
from gateway.db import create_schema, make_engine
from gateway.runtime import Gateway
from gateway.service_loop import ServiceLoop
from gateway.settings import Settings
from gateway.workorders.metrics import ServiceLoopCollector
from gateway.workorders.service import ServiceConfig, WorkOrderService


class OutcomesThroughPipeline(NullDetector):
    """What the work-order service sees as "the detectors": outcomes go via the pipeline.

    The service only teaches the detectors (``learn_from_outcome``); routing that through
    :meth:`gateway.pipeline.Pipeline.learn_from_outcome` journals it for the checkpoint
    and keeps the detectors single-threaded. The pipeline exists only once the gateway
    is built, after the service, hence the late binding.
    """

    def __init__(self) -> None:
        self.gateway: Gateway | None = None

    def learn_from_outcome(self, outcome: Outcome) -> None:
        if self.gateway is None:
            raise RuntimeError("outcome before the gateway was built")
        self.gateway.pipeline.learn_from_outcome(outcome)


def build_gateway(
    settings: Settings,
    *,
    detector: FleetDetector | None = None,
    config: ServiceConfig | None = None,
    sink_wrapper: Callable[[WorkOrderService], Any] | None = None,
    **gateway_options: Any,
) -> tuple[Gateway, ServiceLoop]:
    """The gateway with the service loop plugged in (sink, routes, key scoping, notices).

    ``sink_wrapper`` lets the demo put its simulated field service between the pipeline
    and the service; ``gateway_options`` go to :class:`~gateway.runtime.Gateway`.
    """
    engine = make_engine(settings.database_url)
    create_schema(engine)  # the one migration run; every later ask is a no-op
    holder: dict[str, Gateway] = {}

    def mqtt_url() -> MqttUrl | None:
        return holder["gateway"].mqtt_url if "gateway" in holder else None

    def mqtt_protocol() -> int:
        ingest = holder["gateway"].ingest if "gateway" in holder else None
        return int(ingest.protocol) if ingest is not None else 5

    outcomes = OutcomesThroughPipeline() if detector is not None else None
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    loop = ServiceLoop(
        engine,
        admin_token=admin,
        detector=outcomes,
        mqtt_url=mqtt_url,
        mqtt_protocol=mqtt_protocol,
        client_id=settings.client_id,
        config=config,
    )
    sink = sink_wrapper(loop.service) if sink_wrapper is not None else loop.service
    gateway = Gateway(
        settings,
        engine=engine,
        detector=detector,
        sink=sink,
        routers=loop.routers(),
        device_scope=loop.device_scope(),
        **gateway_options,
    )
    holder["gateway"] = gateway
    if outcomes is not None:
        outcomes.gateway = gateway
    gateway.metrics.registry.register(ServiceLoopCollector(loop.service))
    return gateway, loop
