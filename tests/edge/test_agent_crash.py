"""``housecall edge`` as a real process, SIGKILLed mid-stream and restarted: nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.edge.edge_helpers import (
    Appliances,
    Received,
    Recorder,
    first_copies,
    latest_edge_status,
    seqs_by_device,
    telemetry,
)
from tests.servers import Mosquitto

EDGE = "home-crash"
HOUSECALL = str(Path(sys.executable).parent / "housecall")


def start_agent(
    local: Mosquitto, upstream: Mosquitto, outbox: Path, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                HOUSECALL,
                "edge",
                "--local-url",
                local.url,
                "--upstream-url",
                upstream.url,
                "--edge-id",
                EDGE,
                "--outbox",
                str(outbox),
                "--replay-rate",
                "0",
                "--status-interval-s",
                "1",
                "--quiet",
            ],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_loses_nothing_accepted(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    local, upstream = mosquitto_factory(), mosquitto_factory()
    devices, per_device = ["ac-1", "ac-2", "wm-3"], 400
    total = len(devices) * per_device
    outbox, log = tmp_path / "outbox.db", tmp_path / "agent.log"
    recorder = Recorder(upstream.url)
    agent = start_agent(local, upstream, outbox, log)
    # Ready = its first status report (sent once subscribed at home; start-up imports are slow).
    assert recorder.wait_for(lambda ms: latest_edge_status(ms) is not None, 90), log.read_text()
    appliances = Appliances(local.url)

    def publish_all() -> None:
        for seq in range(per_device):
            for device in devices:
                appliances.send(f"appliances/{device}/telemetry", telemetry(device, seq))
            if seq % 5 == 0:
                time.sleep(0.01)  # a steady stream, not one burst

    producer = threading.Thread(target=publish_all)
    producer.start()
    try:
        assert recorder.wait_for(lambda ms: len(ms) >= total // 5, 60), log.read_text()
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        at_kill = sum(len(set(s)) for s in seqs_by_device(recorder.snapshot()).values())
        assert at_kill < total, "the stream should still be running when the agent dies"
        time.sleep(0.5)  # appliances keep publishing to the home broker meanwhile
        agent = start_agent(local, upstream, outbox, log)
        producer.join(60)
        appliances.close()  # the home broker acknowledged (accepted) every message

        def complete(ms: list[Received]) -> bool:
            seqs = seqs_by_device(ms)
            return all(len(set(seqs.get(d, []))) == per_device for d in devices)

        assert recorder.wait_for(complete, 90), log.read_text()
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            exit_code = agent.wait(20)
        except subprocess.TimeoutExpired:
            agent.kill()
            raise
        recorder.close()
    assert exit_code == 0, log.read_text()

    got = recorder.snapshot()
    received = 0
    for device, seqs in seqs_by_device(got).items():
        assert first_copies(seqs) == list(range(per_device)), device
        received += len(seqs)
    print(
        f"\n{total} accepted, {received} delivered ({received - total} duplicates), "
        f"{at_kill} delivered before the SIGKILL"
    )
    own = [m.payload for m in got if m.topic == f"appliances/{EDGE}/status"]
    # online, then the last will the broker sent for the killed agent, online again, offline.
    assert own[:3] == [b"online", b"offline", b"online"], own
    assert own[-1] == b"offline"
