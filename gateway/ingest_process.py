"""MQTT ingest in a child process, so paho's receive loop and the pipeline run on two cores.

Both are pure Python: in one process they take turns on the GIL, and a gateway
doing parse + de-dup + detectors + storage would reach well under half a bare
subscriber's rate. :class:`ProcessIngest` has :class:`gateway.ingest.MqttIngest`'s
interface (``start``, ``take``, ``ack``, ``subscribed``, ``stop``) but runs the
paho client in a ``spawn``-ed child: received messages come over a pipe in
batches, acknowledgements go back the same way, and the child acknowledges only
what the parent says was stored. When the parent dies (even SIGKILL) the child
sees the pipe close, disconnects and exits; the broker keeps everything
unacknowledged for the next session.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from edge.mqtt_url import MqttUrl
from gateway.ingest import MQTT5, AckId, Delivery, MqttIngest, take_batch
from gateway.metrics import GatewayMetrics
from gateway.pipeline import RawMessage

log = logging.getLogger(__name__)

_Wire = tuple[str, bytes, float, int, int, int]  # topic, payload, arrived, mid, qos, connection
#: How long the child gathers messages before sending them over: one pipe message and
#: one wake-up of each process per 20 ms under a steady stream, not one per message.
CHILD_LINGER_S = 0.02


def _child_main(options: dict[str, Any], connection: Connection) -> None:
    """The child: run paho, forward batches, acknowledge what the parent stored."""
    # Ctrl-C reaches the whole process group; the parent decides when the child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ingest = MqttIngest(
        MqttUrl.parse(options["url"]),
        client_id=options["client_id"],
        protocol=options["protocol"],
        receive_maximum=options["receive_maximum"],
    )
    batch_max: int = options["batch_max"]
    stop = threading.Event()

    def read_acks() -> None:
        try:
            while True:
                kind, body = connection.recv()
                if kind == "ack":
                    ingest.ack_ids(body)
                elif kind == "stop":
                    break
        except (EOFError, OSError):
            pass  # the parent is gone
        stop.set()

    reader = threading.Thread(target=read_acks, name="housecall-ingest-acks", daemon=True)
    reader.start()
    ingest.start()
    state: tuple[bool, float] = (False, -1.0)
    try:
        while not stop.is_set():
            deliveries = ingest.take(batch_max, 0.02, CHILD_LINGER_S)
            now_state = (ingest.subscribed.is_set(), ingest.metrics.mqtt_connects._value.get())  # noqa: SLF001 - prometheus has no public read
            if now_state != state:
                state = now_state
                connection.send(("state", state))
            if deliveries:
                wire: list[_Wire] = [
                    (d.raw.topic, d.raw.payload, d.raw.arrived_wall, d.mid, d.qos, d.connection)
                    for d in deliveries
                ]
                connection.send(("batch", wire))
    except (BrokenPipeError, EOFError, OSError):
        pass
    finally:
        ingest.stop()


class ProcessIngest:
    """Drop-in for :class:`MqttIngest` with the paho client in a child process."""

    def __init__(
        self,
        url: MqttUrl,
        *,
        client_id: str,
        metrics: GatewayMetrics | None = None,
        protocol: int = MQTT5,
        receive_maximum: int = 4096,
        batch_max: int = 1000,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.metrics = metrics or GatewayMetrics()
        self.protocol = protocol
        self.queue: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self.subscribed = threading.Event()
        self._receive_maximum = receive_maximum
        self._batch_max = batch_max
        self._connection: Connection | None = None
        self._process: Any = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._connects_seen = 0.0

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        self._connection = parent_end
        self._process = context.Process(
            target=_child_main,
            args=(
                {
                    "url": str_url(self.url),
                    "client_id": self.client_id,
                    "protocol": self.protocol,
                    "receive_maximum": self._receive_maximum,
                    "batch_max": self._batch_max,
                },
                child_end,
            ),
            name="housecall-mqtt-ingest",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        self._reader = threading.Thread(
            target=self._read, name="housecall-ingest-reader", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        assert self._connection is not None
        try:
            while True:
                kind, body = self._connection.recv()
                if kind == "batch":
                    put = self.queue.put
                    for topic, payload, arrived, mid, qos, connection in body:
                        put(Delivery(RawMessage(topic, payload, arrived), mid, qos, connection))
                elif kind == "state":
                    subscribed, connects = body
                    if subscribed:
                        self.subscribed.set()
                    else:
                        self.subscribed.clear()
                    self.metrics.mqtt_connected.set(1 if subscribed else 0)
                    if connects > self._connects_seen:
                        self.metrics.mqtt_connects.inc(connects - self._connects_seen)
                        self._connects_seen = connects
        except (EOFError, OSError):
            self.subscribed.clear()
            self.metrics.mqtt_connected.set(0)

    @property
    def pid(self) -> int | None:
        """The child's process id (benchmarks account its CPU time)."""
        return self._process.pid if self._process is not None else None

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self.subscribed.wait(timeout_s)

    def take(self, max_items: int, timeout_s: float, linger_s: float = 0.0) -> list[Delivery]:
        return take_batch(self.queue, max_items, timeout_s, self.metrics, linger_s)

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        ids: list[AckId] = [(d.mid, d.qos, d.connection) for d in deliveries if d.qos]
        if ids and self._connection is not None:
            with self._send_lock:
                self._connection.send(("ack", ids))
        return len(ids)

    def stop(self) -> None:
        if self._connection is not None:
            with self._send_lock, contextlib.suppress(OSError, BrokenPipeError):
                self._connection.send(("stop", None))
        if self._process is not None:
            self._process.join(20)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        if self._connection is not None:
            self._connection.close()
        if self._reader is not None:
            self._reader.join(5)
        self.subscribed.clear()


def str_url(url: MqttUrl) -> str:
    """The URL with its password (``str(MqttUrl)`` hides it)."""
    scheme = "mqtts" if url.tls else "mqtt"
    credentials = ""
    if url.username:
        from urllib.parse import quote

        credentials = quote(url.username, safe="")
        if url.password:
            credentials += ":" + quote(url.password, safe="")
        credentials += "@"
    return f"{scheme}://{credentials}{url.host}:{url.port}"
