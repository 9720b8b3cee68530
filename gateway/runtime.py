"""The running gateway: broker connection, pipeline worker, time-series delivery, HTTP API.

``housecall gateway`` runs :class:`Gateway` in the foreground; the demo and the
end-to-end tests run it in threads of their own process::

    gateway = Gateway(load_settings(database_url=..., api_port=8081), detector=my_fleet)
    gateway.start()            # returns once subscribed and serving HTTP
    ...                        # publish to gateway.mqtt_url; GET gateway.api_url + "/healthz"
    gateway.stop()

Workers: the paho client in a child process (:class:`ProcessIngest`; pass
``ingest_process=False`` for a thread of this process, :class:`MqttIngest`), one
pipeline thread (take a batch from the ingest queue, :meth:`Pipeline.process`,
acknowledge), one spool delivery thread, and uvicorn. Stopping finishes and
acknowledges the batch in hand, then disconnects; anything unacknowledged stays
with the broker's persistent session.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from detectors.api import FleetDetector
from edge.mqtt_url import MqttUrl
from gateway.api.app import ApiState, DeviceScope, create_app
from gateway.broker import EmbeddedBroker
from gateway.checkpoints import CheckpointMetrics, DetectorCheckpointer
from gateway.db import make_engine
from gateway.ingest import MQTT5, MqttIngest
from gateway.ingest_process import ProcessIngest
from gateway.metrics import GatewayMetrics
from gateway.pipeline import BatchResult, Pipeline, SignalSink
from gateway.settings import Settings
from gateway.storage import BatchStorage, StorageUnavailable
from gateway.timeseries.delivery import (
    InfluxLineWriter,
    InfluxTarget,
    PrometheusExportProbe,
    SpoolDelivery,
)
from gateway.timeseries.embedded import recent_samples
from gateway.timeseries.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)

DEFAULT_BATCH_MAX = 2000
#: Unacknowledged messages the broker may send ahead (MQTT 5 Receive Maximum). Acks
#: follow the durable write of a whole batch, so the window must hold several batches
#: or the broker waits for acks instead of sending.
DEFAULT_RECEIVE_MAXIMUM = 4096
#: How long a batch waits for more messages after its first (see ``take_batch``).
DEFAULT_LINGER_S = 0.1


class Gateway:
    """Everything ``housecall gateway`` runs, startable and stoppable in-process."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        detector: FleetDetector | None = None,
        sink: SignalSink | None = None,
        routers: Sequence[APIRouter] = (),
        device_scope: DeviceScope | None = None,
        serve_api: bool = True,
        batch_max: int = DEFAULT_BATCH_MAX,
        receive_maximum: int = DEFAULT_RECEIVE_MAXIMUM,
        linger_s: float = DEFAULT_LINGER_S,
        broker_dir: Path | None = None,
        api_port: int | None = None,
        embedded_broker: str = "auto",
        ingest_process: bool = True,
        on_delivered: Callable[[Sequence[SpoolEntry], float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        #: One engine for the whole process (the composition root passes the service's).
        self.engine = engine if engine is not None else make_engine(settings.database_url)
        self.batch_max = batch_max
        self.receive_maximum = receive_maximum
        self.linger_s = linger_s
        self.delivery = self._make_delivery(on_delivered)
        self.storage = BatchStorage(
            self.engine, gateway_id=settings.client_id, delivery=self.delivery
        )
        self.checkpointer = (
            DetectorCheckpointer(
                self.engine,
                detector,
                scope=settings.client_id,
                metrics=CheckpointMetrics(self.metrics.registry),
                interval_s=settings.checkpoint_interval_s,
                max_journal_messages=settings.checkpoint_max_journal,
            )
            if detector is not None
            else None
        )
        self.pipeline = Pipeline(
            self.storage,
            detector=detector,
            sink=sink,
            metrics=self.metrics,
            max_payload_bytes=settings.max_payload_bytes,
            checkpointer=self.checkpointer,
        )
        self._routers = routers
        self._device_scope = device_scope
        self._serve_api = serve_api
        #: "auto" (Mosquitto if installed, else amqtt), "mosquitto" or "amqtt".
        self._embedded_broker = embedded_broker
        #: Run paho in a child process (two cores: receive and pipeline); False: a thread.
        self._ingest_process = ingest_process
        self._broker_dir = broker_dir or Path(settings.spool_dir).parent / "housecall-broker"
        self.broker: EmbeddedBroker | None = None
        self.ingest: MqttIngest | ProcessIngest | None = None
        self.app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.mqtt_url: MqttUrl | None = None
        #: ``api_port=0`` (tests, demo): a free port, chosen at start.
        self.api_port = settings.api_port if api_port is None else api_port
        self.last_error: str | None = None

    # -- assembly ----------------------------------------------------------------------

    def _make_delivery(
        self, on_delivered: Callable[[Sequence[SpoolEntry], float], None] | None
    ) -> SpoolDelivery | None:
        s = self.settings
        if not s.influx_url:
            return None
        spool = Spool(Path(s.spool_dir), max_bytes=s.spool_max_bytes)
        target = InfluxTarget(
            url=s.influx_url,
            token=s.influx_token.get_secret_value() if s.influx_token else "housecall",
            org=s.influx_org,
            bucket=s.influx_bucket,
        )
        m = self.metrics
        m.watch(m.spool_bytes, lambda: float(spool.size_bytes))
        m.watch(m.spool_points, lambda: float(spool.points))
        m.spool_max_bytes.set(s.spool_max_bytes)
        m.watch(m.storage_lag, lambda: _age(spool.oldest_wall()))
        return SpoolDelivery(
            spool,
            InfluxLineWriter(target),
            gateway_id=s.client_id,
            metrics=m,
            probe=PrometheusExportProbe(s.influx_url),
            on_delivered=on_delivered,
        )

    def recent(self, device_id: str, limit: int) -> list[dict[str, Any]]:
        if self.storage.embedded:
            with self.engine.connect() as connection:
                return recent_samples(connection, device_id, limit=limit)
        return self.pipeline.recent.get(device_id, limit)

    def ready(self) -> bool:
        return self.ingest is not None and self.ingest.subscribed.is_set()

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.api_port}"

    def add_observer(self, observer: Callable[[BatchResult], None]) -> None:
        """Called after every committed batch (benchmarks, tests)."""
        self.pipeline.observers.append(observer)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout_s: float = 30.0) -> Gateway:
        """Open the stores, start every worker; returns once subscribed (and serving HTTP)."""
        self.pipeline.open()
        if self.delivery is not None:
            self.delivery.start()
        url = self.settings.mqtt()
        protocol = MQTT5
        if url is None:
            self.broker = EmbeddedBroker(self._broker_dir, prefer=self._embedded_broker)
            endpoint = self.broker.start()
            url, protocol = endpoint.url, endpoint.protocol
        self.mqtt_url = url
        ingest_class = ProcessIngest if self._ingest_process else MqttIngest
        self.ingest = ingest_class(
            url,
            client_id=self.settings.client_id,
            metrics=self.metrics,
            protocol=protocol,
            receive_maximum=self.receive_maximum,
        )
        self.ingest.start()
        self._spawn("housecall-pipeline", self._work)
        if self._serve_api:
            self._start_api()
        if not self.ingest.wait_subscribed(timeout_s):
            log.warning("not subscribed to %s after %.0f s; still trying", url, timeout_s)
        return self

    def _start_api(self) -> None:
        state = ApiState(
            engine=self.engine,
            metrics=self.metrics,
            recent=self.recent,
            ready=self.ready,
            extra_health={"mqtt": lambda: str(self.mqtt_url)},
        )
        admin = self.settings.admin_token
        self.app = create_app(
            state,
            routers=self._routers,
            device_scope=self._device_scope,
            admin_token=admin.get_secret_value() if admin else None,
        )
        if self.api_port == 0:
            self.api_port = _free_port(self.settings.api_host)
        config = uvicorn.Config(
            self.app,
            host=self.settings.api_host,
            port=self.api_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._spawn("housecall-api", self._server.run)
        deadline = time.monotonic() + 15
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            raise RuntimeError(f"HTTP API did not start on {self.api_url}")

    def _spawn(self, name: str, target: Callable[[], Any]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        """The pipeline worker: batch, process, acknowledge; until stopped."""
        assert self.ingest is not None
        ingest = self.ingest
        while not self._stop.is_set():
            deliveries = ingest.take(self.batch_max, 0.05, self.linger_s)
            if not deliveries:
                continue
            try:
                self.pipeline.process([d.raw for d in deliveries])
            except StorageUnavailable as err:
                self.last_error = str(err)
                log.warning("stopping with a batch not stored (%s): not acknowledged", err)
                return
            except Exception as err:  # a bug: do not ack, keep the broker's copy
                self.last_error = f"{type(err).__name__}: {err}"
                log.exception("pipeline failed; batch not acknowledged")
                continue
            ingest.ack(deliveries)

    def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Finish the batch in hand, disconnect, deliver what the spool holds (up to a timeout)."""
        self._stop.set()
        self.pipeline.stop()
        for thread in self._threads:
            if thread.name == "housecall-pipeline":
                thread.join(60)
        self.pipeline.close()
        if self.ingest is not None:
            self.ingest.stop()
        if self.delivery is not None:
            self.delivery.stop(drain_timeout_s)
            self.delivery.spool.close()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(15)
        if self.broker is not None:
            self.broker.stop()
        self.engine.dispose()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def run_forever(self, stop: threading.Event) -> None:
        """Foreground mode: start, then wait for ``stop`` (set by a signal handler)."""
        self.start()
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                pass
        log.info("stopping: finishing the batch in hand, writing the detectors' checkpoint")
        self.stop()


def _age(wall: float | None) -> float:
    return max(0.0, time.time() - wall) if wall is not None else 0.0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
