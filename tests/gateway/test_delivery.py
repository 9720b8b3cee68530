"""Spool delivery against a real victoria-metrics: in order, once, and the crash window closed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.metrics import GatewayMetrics
from gateway.timeseries.delivery import (
    MARKER_MEASUREMENT,
    InfluxLineWriter,
    InfluxTarget,
    PrometheusExportProbe,
    SpoolDelivery,
)
from gateway.timeseries.lineproto import marker_line
from gateway.timeseries.spool import Spool
from tests.gateway.helpers import wait_until
from tests.servers import VictoriaMetrics

GATEWAY = "gw-delivery-test"


def body(batch: int, points: int = 5) -> bytes:
    base = 1_780_000_000_000 + batch * 1000
    return "\n".join(
        f"telemetry,device=ac-{batch},kind=ac,model=m seq={n}.0 {base + n}" for n in range(points)
    ).encode()


def target(vm: VictoriaMetrics) -> InfluxTarget:
    return InfluxTarget(url=vm.url, token="t", org="o", bucket="b")


def test_delivers_committed_entries_in_order_and_removes_them(
    victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    metrics = GatewayMetrics()
    delivery = SpoolDelivery(
        spool, InfluxLineWriter(target(victoria_metrics)), gateway_id=GATEWAY, metrics=metrics
    )
    for batch in (101, 102, 103):
        spool.append(batch, body(batch), points=5)
    delivery.committed(102)  # 103's SQL transaction has not committed: must not be sent
    delivery.start()
    assert wait_until(lambda: spool.entries == 1, 20)
    time.sleep(0.3)
    assert [entry.batch_id for entry in spool.head(10)] == [103]
    delivery.stop()
    assert metrics.points_written._value.get() == 10
    assert victoria_metrics.sample_count('{__name__="telemetry_seq", device="ac-103"}') == 0
    assert victoria_metrics.sample_count('{__name__="telemetry_seq", device="ac-101"}') == 5
    spool.close()


@pytest.mark.parametrize("with_probe", [True, False])
def test_a_write_that_arrived_just_before_a_crash_is_not_sent_again(
    victoria_metrics_factory: Callable[..., VictoriaMetrics], tmp_path: Path, with_probe: bool
) -> None:
    """The server took the request, the gateway died before removing the entry from the spool."""
    vm = victoria_metrics_factory()
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(1, body(1), points=5)
    spool.append(2, body(2), points=5)
    writer = InfluxLineWriter(target(vm))
    marker = marker_line(MARKER_MEASUREMENT, GATEWAY, 1, int(time.time() * 1000))
    writer.write(body(1) + b"\n" + marker.encode())  # ... and then SIGKILL
    writer.close()

    metrics = GatewayMetrics()
    restarted = SpoolDelivery(
        spool,
        InfluxLineWriter(target(vm)),
        gateway_id=GATEWAY,
        metrics=metrics,
        probe=PrometheusExportProbe(vm.url) if with_probe else None,
    )
    restarted.committed(2)
    restarted.start()
    assert wait_until(lambda: spool.entries == 0, 20)
    restarted.stop()
    spool.close()
    stored = vm.sample_count('{__name__="telemetry_seq", device="ac-1"}')
    if with_probe:
        assert stored == 5
        assert metrics.in_doubt_replays._value.get() == 0
    else:  # what the probe prevents: victoria-metrics keeps both copies
        assert stored == 10
        assert metrics.in_doubt_replays._value.get() == 1
    assert vm.sample_count('{__name__="telemetry_seq", device="ac-2"}') == 5
