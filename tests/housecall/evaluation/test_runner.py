"""The evaluation's fast path and its path through a real Mosquitto agree, message for message."""

from __future__ import annotations

import pytest

from housecall.evaluation.runner import evaluate
from simulators.fleet import FleetConfig
from tests.servers import Mosquitto


@pytest.mark.slow
def test_mqtt_path_gives_the_same_numbers_as_the_in_process_path(mosquitto: Mosquitto) -> None:
    config = FleetConfig(devices=6, days=1.5, seed=21)
    fast = evaluate(config)
    broker = evaluate(config, mqtt_url=mosquitto.url)
    assert broker.messages == fast.messages > 1000
    assert broker.rejected == fast.rejected == 0
    assert [(o.device_id, o.fault, o.opened_at) for o in broker.orders] == [
        (o.device_id, o.fault, o.opened_at) for o in fast.orders
    ]
    assert broker.report == fast.report
