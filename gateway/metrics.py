"""The gateway's Prometheus metrics, on a registry of its own (tests run several gateways).

Every drop is counted somewhere here: dead letters by reason, duplicates, stale
sequence numbers; the spool's size and the storage lag show a time-series
outage while it happens.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """All metric objects, created on ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            "housecall_mqtt_messages_received", "Messages handed to the pipeline", registry=r
        )
        self.telemetry = Counter(
            "housecall_telemetry_messages",
            "Telemetry messages accepted and stored (duplicates excluded)",
            registry=r,
        )
        self.events = Counter(
            "housecall_event_messages", "Event messages accepted and stored", registry=r
        )
        self.births = Counter("housecall_birth_messages", "Birth messages accepted", registry=r)
        self.statuses = Counter("housecall_status_messages", "Status messages accepted", registry=r)
        self.dead_letters = Counter(
            "housecall_dead_letters",
            "Messages refused by the contract, stored as dead letters",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "housecall_duplicates", "Redelivered or replayed messages not stored again", registry=r
        )
        self.stale = Counter(
            "housecall_stale_messages",
            "Messages whose seq is older than the de-duplication window (not stored)",
            registry=r,
        )
        self.seq_gaps = Counter(
            "housecall_seq_gaps", "Sequence numbers skipped (losses upstream)", registry=r
        )
        self.late_fills = Counter(
            "housecall_seq_late_fills", "Skipped sequence numbers that arrived late", registry=r
        )
        self.seq_resets = Counter(
            "housecall_seq_resets", "Device counters restarted after a birth", registry=r
        )
        self.signals = Counter(
            "housecall_detector_signals", "Signals the detectors returned", ["type"], registry=r
        )
        self.detector_errors = Counter(
            "housecall_detector_errors", "Exceptions raised by the detectors", registry=r
        )
        self.sink_errors = Counter(
            "housecall_signal_sink_errors", "Exceptions raised by the signal sink", registry=r
        )
        self.batches = Counter("housecall_batches", "Batches committed", registry=r)
        self.storage_retries = Counter(
            "housecall_storage_retries",
            "Batch commits that failed and were retried (SQL down, spool full)",
            registry=r,
        )
        self.processing_latency = Histogram(
            "housecall_processing_latency_seconds",
            "Arrival at the gateway to durable commit (wall clock)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "housecall_batch_size",
            "Messages per committed batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.points_written = Counter(
            "housecall_timeseries_points_written",
            "Points the time-series server acknowledged",
            registry=r,
        )
        self.write_failures = Counter(
            "housecall_timeseries_write_failures",
            "Time-series writes that failed (points stay in the spool)",
            registry=r,
        )
        self.in_doubt_replays = Counter(
            "housecall_timeseries_in_doubt_replays",
            "Spool entries resent after a restart without proof they had arrived",
            registry=r,
        )
        self.timeseries_up = Gauge(
            "housecall_timeseries_up", "1 while the last time-series write succeeded", registry=r
        )
        self.spool_bytes = Gauge(
            "housecall_spool_size_bytes", "Bytes waiting in the disk spool", registry=r
        )
        self.spool_points = Gauge(
            "housecall_spool_points", "Points waiting in the disk spool", registry=r
        )
        self.spool_max_bytes = Gauge(
            "housecall_spool_max_bytes", "The disk spool's size bound", registry=r
        )
        self.storage_lag = Gauge(
            "housecall_storage_lag_seconds",
            "Age of the oldest point not yet in the time-series server",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "housecall_mqtt_connected", "1 while subscribed to the broker", registry=r
        )
        self.mqtt_connects = Counter(
            "housecall_mqtt_connects", "Successful (re)connections to the broker", registry=r
        )
        self.queue_depth = Gauge(
            "housecall_ingest_queue_depth", "Messages received, not yet processed", registry=r
        )
        self.devices = Gauge("housecall_devices", "Devices in the registry", registry=r)

    def watch(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Compute ``gauge`` when scraped."""
        gauge.set_function(read)
