"""The service loop as one part to plug into the gateway: sink, routers, background workers.

It lives beside the packages it wires, not inside one: work orders and service quality
must not import each other, and this is the one module that builds both.

The composition root (:func:`housecall.compose.build_gateway`) wires it like this::

    loop = ServiceLoop(engine, admin_token=..., detector=fleet,
                       mqtt_url=lambda: gateway.mqtt_url)
    gateway = Gateway(settings, engine=engine, detector=fleet, sink=loop.service,
                      routers=loop.routers(), device_scope=loop.device_scope())
    gateway.start(); loop.start()
    ...
    loop.stop(); gateway.stop()

Background workers (wall clock, what networks and people do): the webhook
dispatcher (outbox -> HTTP, retries) and the SLA sweeper (flags breached orders).
Notices go out over MQTT through a publisher connected on first use, because the
embedded broker's address is only known once the gateway has started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from detectors.api import FleetDetector
from edge.contract import Notice
from edge.mqtt_url import MqttUrl
from edge.publisher import MqttPublisher
from gateway.db import create_schema
from gateway.quality.api import quality_routers  # service quality
from gateway.quality.service import QualityService  # service quality
from gateway.workorders import tables  # noqa: F401 - registers the tables on Base
from gateway.workorders.api import ApiContext, device_scope, service_routers
from gateway.workorders.notices import MqttNoticePublisher, NoticePublisher
from gateway.workorders.service import ServiceConfig, WorkOrderService
from gateway.workorders.webhooks import Backoff, Sender, WebhookDispatcher

log = logging.getLogger(__name__)

#: How often (wall seconds) unpublished self-fix notices are retried.
NOTICE_RETRY_S = 5.0


class LazyMqttNotices:
    """Connects an :class:`MqttPublisher` the first time a notice is sent."""

    def __init__(
        self,
        url: Callable[[], MqttUrl | None],
        client_id: str,
        protocol: Callable[[], int] = lambda: 5,
    ) -> None:
        self._url = url
        self._protocol = protocol
        self._client_id = client_id
        self._publisher: MqttPublisher | None = None
        self._notices: MqttNoticePublisher | None = None
        self._lock = threading.Lock()

    def __call__(self, notice: Notice, /) -> None:
        with self._lock:
            if self._notices is None:
                url = self._url()
                if url is None:
                    raise RuntimeError("no MQTT broker to publish notices to")
                self._publisher = MqttPublisher(
                    url, self._client_id, max_inflight=100, protocol=self._protocol()
                )
                self._publisher.connect()
                self._notices = MqttNoticePublisher(self._publisher)
        self._notices(notice)

    @property
    def published(self) -> int:
        return self._notices.published if self._notices else 0

    def close(self) -> None:
        with self._lock:
            if self._publisher is not None:
                self._publisher.close(flush_timeout_s=5)
                self._publisher = None
                self._notices = None


class ServiceLoop:
    def __init__(
        self,
        engine: Engine,
        *,
        admin_token: str | None = None,
        detector: FleetDetector | None = None,
        mqtt_url: Callable[[], MqttUrl | None] | None = None,
        mqtt_protocol: Callable[[], int] = lambda: 5,
        notices: NoticePublisher | None = None,
        client_id: str = "housecall-gateway",
        config: ServiceConfig | None = None,
        sender: Sender | None = None,
        backoff: Backoff | None = None,
        sla_sweep_s: float = 60.0,
        webhook_poll_s: float = 0.5,
    ) -> None:
        create_schema(engine)
        self._lazy: LazyMqttNotices | None = None
        if notices is None and mqtt_url is not None:
            self._lazy = LazyMqttNotices(mqtt_url, f"{client_id}-notices", mqtt_protocol)
            notices = self._lazy
        sessions = sessionmaker(engine, expire_on_commit=False)
        self.service = WorkOrderService(
            sessions, detector=detector, publish_notice=notices, config=config
        )
        self.webhooks = WebhookDispatcher(sessions, sender=sender, backoff=backoff)
        self.context = ApiContext(self.service, admin_token)
        # Service quality (gateway.quality): history chain, pricing, warranty, scorecards,
        # progress notices. It hears every order change through the service's extension
        # points (gateway.workorders.events) and adds its routes below.
        self.quality = QualityService(self.service)
        self.service.subscribe(self.quality)  # in-transaction and after-commit events
        self.service.prefer(self.quality.dispatch)  # scorecard bonus in dispatch
        self._sla_sweep_s = sla_sweep_s
        self._webhook_poll_s = webhook_poll_s
        self._stop = threading.Event()
        self._sla_thread: threading.Thread | None = None

    def routers(self) -> list[APIRouter]:
        return [*service_routers(self.context), *quality_routers(self.context, self.quality)]

    def device_scope(self) -> Any:
        return device_scope(self.context)

    def start(self) -> ServiceLoop:
        self._stop.clear()
        self.webhooks.start(self._webhook_poll_s)
        self.quality.start()  # service quality: progress-notice relay
        self._sla_thread = threading.Thread(target=self._sweep, name="housecall-sla", daemon=True)
        self._sla_thread.start()
        return self

    def _sweep(self) -> None:
        """Every few seconds: notices the broker has not taken yet; every ``sla_sweep_s``: SLA."""
        last_sla = 0.0
        while not self._stop.wait(min(self._sla_sweep_s, NOTICE_RETRY_S)):
            try:
                self.service.resend_notices()
                if time.monotonic() - last_sla >= self._sla_sweep_s:
                    last_sla = time.monotonic()
                    self.service.sweep_sla()
            except Exception:  # a database hiccup must not end the sweeper
                log.exception("service-loop sweep failed")

    def stop(self) -> None:
        self._stop.set()
        self.webhooks.stop()
        self.quality.stop()  # service quality
        if self._sla_thread is not None:
            self._sla_thread.join(10)
        if self._lazy is not None:
            self._lazy.close()

    @property
    def notices_published(self) -> int:
        return self._lazy.published if self._lazy else 0
