"""The edge agent between two REAL Mosquitto brokers (home and upstream), in this process."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.agent import EdgeConfig
from edge.mqtt_url import MqttUrl
from edge.vibration_burst import burst_topic, make_burst
from tests.edge.edge_helpers import (
    Appliances,
    Received,
    Recorder,
    RunningAgent,
    birth,
    event,
    first_copies,
    latest_edge_status,
    read_counters,
    read_rows,
    seqs_by_device,
    telemetry,
    wait_until,
)
from tests.servers import Mosquitto

EDGE = "home-7"


def config(local: str, upstream: str, outbox: Path, **overrides: Any) -> EdgeConfig:
    options: dict[str, Any] = {
        "local_url": MqttUrl.parse(local),
        "upstream_url": MqttUrl.parse(upstream),
        "edge_id": EDGE,
        "outbox_path": outbox,
        "disk_budget_bytes": 50 * 1024 * 1024,
        "status_interval_s": 0.5,
        "upstream_wait_s": 2.0,
    }
    options.update(overrides)
    return EdgeConfig(**options)


@pytest.mark.slow
def test_forwards_with_via_keeps_retain_dead_letters_and_attaches_features(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    local, upstream = mosquitto_factory(), mosquitto_factory()
    recorder = Recorder(upstream.url)
    agent = RunningAgent(config(local.url, upstream.url, tmp_path / "outbox.db"))
    appliances = Appliances(local.url)
    try:
        appliances.send("appliances/wm-1/birth", birth("wm-1", "washer"), retain=True)
        appliances.send("appliances/wm-1/status", b"online", retain=True)
        for seq in range(5):
            appliances.send("appliances/wm-1/telemetry", telemetry("wm-1", seq))
        appliances.send("appliances/wm-1/events", event("wm-1", 0))
        # Outside the contract: a string where a number belongs, and a foreign device id.
        appliances.send(
            "appliances/wm-1/telemetry", telemetry("wm-1", 99, setpoint_c="warm", mode="cool")
        )
        appliances.send("appliances/wm-1/telemetry", telemetry("wm-2", 100))
        # A raw burst (impacts at the outer-race rate), then the telemetry that carries it.
        rng = np.random.default_rng(1)
        signal = rng.normal(0, 0.05, 12000)
        signal[:: int(12000 / (3.5848 * 20))] += 2.0
        appliances.send(
            burst_topic("wm-1"),
            make_burst("wm-1", signal, sample_rate_hz=12000, rpm=1200, ts="2026-07-14T13:00:00Z"),
        )
        appliances.send("appliances/wm-1/burst", b"{}")  # unknown channel
        appliances.send(
            "appliances/wm-1/telemetry",
            telemetry("wm-1", 5, phase="spin", drum_rpm=1200.0, x_vibration_kurtosis=9.0),
        )
        appliances.close()

        assert recorder.wait_for(lambda ms: len(seqs_by_device(ms).get("wm-1", [])) >= 6, 15)
        assert recorder.wait_for(
            lambda ms: (latest_edge_status(ms) or {}).get("dead_letters", {}).get("total") == 3, 10
        ), latest_edge_status(recorder.snapshot())
    finally:
        agent.close()
        recorder.close()

    got = recorder.snapshot()
    forwarded = [m for m in got if m.topic.startswith("appliances/wm-1/")]
    for m in forwarded:
        if not m.topic.endswith("/status"):
            assert m.json()["via"] == EDGE
            assert "replay" not in m.json()  # live traffic is not replay
    by_topic = {m.topic: m for m in forwarded}
    assert by_topic["appliances/wm-1/status"].payload == b"online"
    assert by_topic["appliances/wm-1/status"].retain
    assert by_topic["appliances/wm-1/birth"].retain
    assert not by_topic["appliances/wm-1/telemetry"].retain
    assert seqs_by_device(got) == {"wm-1": [0, 1, 2, 3, 4, 5]}
    assert seqs_by_device(got, "events") == {"wm-1": [0]}

    last = [m.json() for m in got if m.topic.endswith("/telemetry")][-1]["readings"]
    assert last["x_vibration_kurtosis"] == 9.0  # the firmware's own feature wins
    assert last["x_envelope_bpfo_energy"] > 2 * last["x_envelope_bpfi_energy"]
    assert last["x_envelope_bpfo_energy"] > 2 * last["x_envelope_bsf_energy"]
    assert last["x_vibration_crest_factor"] > 5
    assert "x_vibration_rms_g" in last
    first = next(m.json() for m in got if m.topic.endswith("/telemetry"))["readings"]
    assert not any(name.startswith("x_") for name in first)

    status = latest_edge_status(got)
    assert status is not None
    assert status["dead_letters"]["by_reason"] == {
        "invalid": 1,
        "device_mismatch": 1,
        "bad_topic": 1,
    }
    assert status["features"] == {"bursts": 1, "attached": 1}
    assert status["dropped"]["telemetry_over_budget"] == 0
    own = [m for m in got if m.topic == f"appliances/{EDGE}/status"]
    assert own[0].payload == b"online"
    assert own[-1].payload == b"offline"  # said on a clean shutdown
    assert read_rows(tmp_path / "outbox.db") == []  # everything acknowledged left the outbox


@pytest.mark.slow
def test_upstream_outage_replays_everything_in_order_marked_replay_at_a_bounded_rate(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    local = mosquitto_factory()
    upstream = mosquitto_factory(persistence=True)
    devices = ["ac-1", "ac-2", "wm-3"]
    live, during_outage, rate = 20, 60, 100.0
    recorder = Recorder(upstream.url)
    running = RunningAgent(
        config(local.url, upstream.url, tmp_path / "outbox.db", replay_rate=rate)
    )
    appliances = Appliances(local.url)
    try:
        for seq in range(live):
            for device in devices:
                appliances.send(f"appliances/{device}/telemetry", telemetry(device, seq))
        assert recorder.wait_for(
            lambda ms: sum(len(s) for s in seqs_by_device(ms).values()) >= live * len(devices), 10
        )

        upstream.stop()  # SIGTERM: the broker saves the recorder's session
        assert wait_until(lambda: not running.agent.upstream.connected, 10)
        for seq in range(live, live + during_outage):
            for device in devices:
                appliances.send(f"appliances/{device}/telemetry", telemetry(device, seq))
                if seq % 20 == 0:
                    appliances.send(f"appliances/{device}/events", event(device, seq // 20))
        appliances.close()  # the home broker has every message
        assert wait_until(
            lambda: (
                read_counters(tmp_path / "outbox.db").get("accepted.telemetry", 0)
                == len(devices) * (live + during_outage)
            ),
            15,
        )
        time.sleep(1.0)  # an outage of a while, appliances done publishing
        upstream.start()

        def complete(ms: list[Any]) -> bool:
            seqs = seqs_by_device(ms)
            return all(len(set(seqs.get(d, []))) == live + during_outage for d in devices)

        assert recorder.wait_for(complete, 30), {
            d: len(set(s)) for d, s in seqs_by_device(recorder.snapshot()).items()
        }
        assert recorder.wait_for(lambda ms: len(seqs_by_device(ms, "events")) == 3, 10)
    finally:
        running.close()
        recorder.close()

    got = recorder.snapshot()
    for device, seqs in seqs_by_device(got).items():
        assert first_copies(seqs) == list(range(live + during_outage)), device
    for device, seqs in seqs_by_device(got, "events").items():
        assert first_copies(seqs) == [1, 2, 3], device
    replayed = [
        m
        for m in got
        if m.topic.endswith(("/telemetry", "/events"))
        and (m.topic.endswith("/events") or m.json()["seq"] >= live)
    ]
    assert replayed
    assert all(m.json().get("replay") is True for m in replayed)
    live_ones = [m for m in got if m.topic.endswith("/telemetry") and m.json()["seq"] < live]
    assert not any(m.json().get("replay") for m in live_ones)

    # The replay was throttled: 180 telemetry + 3 events at `rate` per second (minus the
    # token bucket's burst of rate/10) cannot all arrive faster than this.
    n = len(devices) * during_outage + 3
    status = latest_edge_status(got)
    assert status is not None
    assert status["replayed"] >= n
    counters = read_counters(tmp_path / "outbox.db")
    assert counters["forwarded.replay"] >= n
    assert read_rows(tmp_path / "outbox.db") == []
    assert _spread_s(replayed) >= 0.8 * (n - rate / 10) / rate


def _spread_s(messages: list[Received]) -> float:
    """Wall time the recorder needed for these messages (they are in arrival order)."""
    return messages[-1].arrived - messages[0].arrived


@pytest.mark.slow
def test_disk_budget_drops_oldest_telemetry_never_events_and_reports_every_drop(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    local = mosquitto_factory()
    upstream = mosquitto_factory(persistence=True)
    recorder = Recorder(upstream.url)  # its session (and queue) survives the outage
    upstream.stop()  # upstream is down at first: the outbox must fill
    outbox = tmp_path / "outbox.db"
    budget = 40_000
    running = RunningAgent(
        config(
            local.url,
            upstream.url,
            outbox,
            disk_budget_bytes=budget,
            upstream_wait_s=0,
            replay_rate=0,
        )
    )
    appliances = Appliances(local.url)
    n_telemetry, n_events = 400, 10
    try:
        for seq in range(n_telemetry):
            appliances.send("appliances/ac-1/telemetry", telemetry("ac-1", seq))
            if seq % 40 == 0:
                appliances.send("appliances/ac-1/events", event("ac-1", seq // 40))
        appliances.close()
        assert wait_until(
            lambda: read_counters(outbox).get("accepted.telemetry") == n_telemetry, 20
        ), read_counters(outbox)
        counters = read_counters(outbox)
        rows = read_rows(outbox)
        kept = [orjson_seq(p) for _, c, p in rows if c == "telemetry"]
        events_kept = [orjson_seq(p) for _, c, p in rows if c == "events"]
        dropped = counters["dropped.telemetry_over_budget"]
        assert 0 < dropped == n_telemetry - len(kept)
        assert counters["dropped_by_device.ac-1"] == dropped
        assert kept == list(range(n_telemetry - len(kept), n_telemetry))  # the newest survive
        assert events_kept == list(range(n_events))  # never an event
        charged = sum(len(p) + len("appliances/ac-1/telemetry") + 64 for _, _, p in rows)
        assert charged <= budget

        local_view = Recorder(local.url, filters=(f"edge/{EDGE}/status",))
        assert local_view.wait_for(
            lambda ms: (
                (latest_edge_status(ms) or {}).get("dropped", {}).get("telemetry_over_budget")
                == dropped
            ),
            5,
        ), "the drop count must be visible on the home broker"
        local_view.close()

        upstream.start()
        # paho's reconnect back-off is a few seconds here.
        assert recorder.wait_for(
            lambda ms: (
                len(seqs_by_device(ms).get("ac-1", [])) == len(kept)
                and len(seqs_by_device(ms, "events").get("ac-1", [])) == n_events
            ),
            40,
        )
        assert recorder.wait_for(
            lambda ms: (
                (latest_edge_status(ms) or {}).get("dropped", {}).get("telemetry_over_budget")
                == dropped
            ),
            10,
        )
        got = recorder.snapshot()
    finally:
        running.close()
        recorder.close()
    assert first_copies(seqs_by_device(got)["ac-1"]) == kept
    status = latest_edge_status(got)
    assert status is not None
    assert status["dropped"]["by_device"] == {"ac-1": dropped}
    assert status["accepted"]["telemetry"] == n_telemetry


def orjson_seq(payload: bytes) -> int:
    import orjson

    return int(orjson.loads(payload)["seq"])
