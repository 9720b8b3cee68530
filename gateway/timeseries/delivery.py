"""Deliver the spool to the time-series server, in order, each point exactly once.

One worker thread takes the oldest committed spool entries, writes them in one
synchronous request through influxdb-client's v2 write API (no batching mode:
it drops after retries), and removes them only after the server said yes. While
the server is down it retries with jittered backoff; the spool grows meanwhile.

Exactly once across a crash: every request ends with a *marker* line
(``housecall_spool,gateway=<id> batch=<last batch id>``). A restarted gateway
cannot know whether the request in flight when it died arrived, so before
sending anything it asks the server for the newest marker (``DeliveryProbe``)
and drops the entries already there. Without a probe answer it resends them and
counts an in-doubt replay (harmless on InfluxDB, where an identical point
overwrites itself).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from gateway.metrics import GatewayMetrics
from gateway.timeseries.lineproto import marker_line
from gateway.timeseries.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)

MARKER_MEASUREMENT = "housecall_spool"
#: Prometheus-style name victoria-metrics gives the marker's field.
MARKER_METRIC = f"{MARKER_MEASUREMENT}_batch"


class WriteFailed(RuntimeError):
    """The time-series server did not take the write (down, refusing, timing out)."""


class LineWriter(Protocol):
    """Writes one line-protocol body (millisecond timestamps) or raises :class:`WriteFailed`."""

    def write(self, body: bytes) -> None: ...

    def close(self) -> None: ...


class ProbeUnreachable(RuntimeError):
    """The server did not answer the probe; ask again later."""


class DeliveryProbe(Protocol):
    """Which spool batch the server last received from ``gateway``.

    Returns None when the server cannot tell (no such API); raises
    :class:`ProbeUnreachable` when it does not answer.
    """

    def delivered_through(self, gateway: str, since_wall: float) -> int | None: ...


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    url: str
    token: str
    org: str
    bucket: str


class InfluxLineWriter:
    """influxdb-client's synchronous v2 write API: one HTTP request per call, no retries."""

    def __init__(self, target: InfluxTarget, *, timeout_ms: int = 10_000) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.write_precision import WritePrecision

        self._target = target
        self._precision: Any = WritePrecision.MS
        self._client = InfluxDBClient(
            url=target.url, token=target.token, org=target.org, timeout=timeout_ms
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes) -> None:
        try:
            self._api.write(
                bucket=self._target.bucket,
                org=self._target.org,
                record=body,
                write_precision=self._precision,
            )
        except Exception as err:  # urllib3 and ApiException alike: the server did not take it
            raise WriteFailed(f"{type(err).__name__}: {str(err)[:200]}") from err

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]


class PrometheusExportProbe:
    """Asks a server with the Prometheus export API (victoria-metrics) for the newest marker."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._timeout = timeout_s

    def delivered_through(self, gateway: str, since_wall: float) -> int | None:
        try:
            with httpx.Client(timeout=self._timeout) as http:
                http.get(f"{self._url}/internal/force_flush")  # recent rows become searchable
                response = http.get(
                    f"{self._url}/api/v1/export",
                    params={
                        "match[]": f'{MARKER_METRIC}{{gateway="{gateway}"}}',
                        "start": f"{since_wall - 3600:.3f}",
                        # An explicit end: without it, the newest second (-search.latencyOffset,
                        # 30 s by default) is left out, and that is where the marker is.
                        "end": f"{time.time() + 3600:.3f}",
                    },
                )
        except httpx.HTTPError as err:
            raise ProbeUnreachable(str(err)) from err
        if response.status_code >= 500:
            raise ProbeUnreachable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            return None
        best = 0
        for line in response.content.splitlines():
            if line.strip():
                values = orjson.loads(line).get("values", [])
                best = max([best, *(int(v) for v in values)])
        return best


class SpoolDelivery:
    """The worker that drains the spool into the server (start/stop from the runtime)."""

    def __init__(
        self,
        spool: Spool,
        writer: LineWriter,
        *,
        gateway_id: str,
        metrics: GatewayMetrics,
        probe: DeliveryProbe | None = None,
        max_request_bytes: int = 4 * 1024 * 1024,
        on_delivered: Callable[[Sequence[SpoolEntry], float], None] | None = None,
    ) -> None:
        self.spool = spool
        self._writer = writer
        self._gateway_id = gateway_id
        self._metrics = metrics
        self._probe = probe
        self._max_request_bytes = max_request_bytes
        self._on_delivered = on_delivered
        self._committed_through = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_doubt = True  # until the first probe after start-up
        self._backoff_s = 0.0

    # -- told by the pipeline's storage ----------------------------------------------

    def committed(self, batch_id: int) -> None:
        """Entries up to ``batch_id`` have their SQL transaction committed: deliverable."""
        self._committed_through = max(self._committed_through, batch_id)
        self.spool.notify()

    @property
    def committed_through(self) -> int:
        return self._committed_through

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="housecall-ts-delivery", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout_s: float = 0.0) -> None:
        """Stop the worker; with a timeout, first give it that long to empty the spool."""
        deadline = time.monotonic() + drain_timeout_s
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self._writer.close()

    def pending(self) -> int:
        """Committed entries not yet delivered."""
        return len(self.spool.head(1, through=self._committed_through))

    # -- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # never let the worker die: log, back off, go on
                log.exception("time-series delivery step failed")
                self._sleep_backoff()

    def _step(self) -> None:
        if self._in_doubt and not self._resolve_in_doubt():
            self._sleep_backoff()
            return
        seen = self.spool.generation
        entries = self.spool.head(
            256, through=self._committed_through, max_bytes=self._max_request_bytes
        )
        if not entries:
            self.spool.wait_for_change(seen, 0.5)
            return
        last = entries[-1].batch_id
        marker = marker_line(MARKER_MEASUREMENT, self._gateway_id, last, int(time.time() * 1000))
        body = b"\n".join([*(entry.body for entry in entries), marker.encode()])
        try:
            self._writer.write(body)
        except WriteFailed as err:
            self._metrics.write_failures.inc()
            self._metrics.timeseries_up.set(0)
            log.warning(
                "time-series write failed (%s); %d bytes spooled", err, self.spool.size_bytes
            )
            self._sleep_backoff()
            return
        self.spool.remove_through(last)
        self._backoff_s = 0.0
        self._metrics.timeseries_up.set(1)
        self._metrics.points_written.inc(sum(entry.points for entry in entries))
        if self._on_delivered is not None:
            self._on_delivered(entries, time.time())

    def _resolve_in_doubt(self) -> bool:
        """At start-up: drop spool entries the server already has. False: try again later."""
        head = self.spool.head(1, through=self._committed_through)
        if not head:
            self._in_doubt = False
            return True
        if self._probe is None:
            self._metrics.in_doubt_replays.inc()
            self._in_doubt = False
            return True
        try:
            through = self._probe.delivered_through(self._gateway_id, head[0].created_wall)
        except ProbeUnreachable:
            return False  # it cannot take writes either; ask again after a backoff
        if through is None:
            self._metrics.in_doubt_replays.inc()
            self._in_doubt = False
            return True
        if through >= head[0].batch_id:
            log.info("spool entries through batch %d had arrived before a restart", through)
            self.spool.remove_through(min(through, self._committed_through))
        self._in_doubt = False
        return True

    def _sleep_backoff(self) -> None:
        self._backoff_s = min(5.0, max(0.1, self._backoff_s * 2))
        self._stop.wait(self._backoff_s * random.uniform(0.5, 1.0))
