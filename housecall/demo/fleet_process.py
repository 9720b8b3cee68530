"""The demo's fleet in a process of its own: simulate and publish, repair on request.

Why a process: the simulator's physics and the gateway (and the embedded amqtt broker
when Mosquitto is not installed) would otherwise share one interpreter lock; on two
cores the fleet runs beside the gateway instead of between its batches.

The parent talks to it through shared counters (``published``, ``stored``, device
time) for flow control and progress, and a queue of repairs: the demo's technicians
repair a simulated appliance by naming its device id; the child zeroes that device's
injected fault from the next message on.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
from dataclasses import dataclass
from typing import Any

from edge.mqtt_url import MqttUrl


@dataclass
class FleetChannels:
    """The shared state between the demo and its fleet process."""

    published: Any  # multiprocessing.Value("q")
    stored: Any  # multiprocessing.Value("q")
    device_now: Any  # multiprocessing.Value("d"): epoch seconds of the latest message
    repairs: Any  # multiprocessing.Queue[str]
    done: Any  # multiprocessing.Event
    errors: Any  # multiprocessing.Queue[str]

    @classmethod
    def make(cls, ctx: Any, repairs: Any) -> FleetChannels:
        return cls(
            ctx.Value("q", 0, lock=False),
            ctx.Value("q", 0, lock=False),
            ctx.Value("d", 0.0, lock=False),
            repairs,
            ctx.Event(),
            ctx.Queue(),
        )


class RemotePlan:
    """The parent's handle on one simulated fault: setting severity to 0 repairs it."""

    def __init__(self, device_id: str, fault: Any, severity: float, repairs: Any) -> None:
        self.device_id = device_id
        self.fault = fault
        self._severity = severity
        self._repairs = repairs

    @property
    def severity(self) -> float:
        return self._severity

    @severity.setter
    def severity(self, value: float) -> None:
        if value <= 0.0 < self._severity:
            self._repairs.put(self.device_id)
        self._severity = value


def run_fleet(config: Any, url: str, protocol: int, window: int, ch: FleetChannels) -> None:
    """The child's main: publish every message of the run, at most ``window`` ahead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the demo's main process stops us
    from edge.publisher import MqttPublisher
    from simulators.fleet import FleetRun

    try:
        run = FleetRun(config)
        plans = {run.devices[p.device].device_id: p for p in run.plans}
        publisher = MqttPublisher(
            MqttUrl.parse(url), "housecall-demo-fleet", max_inflight=500, protocol=protocol
        )
        publisher.connect()
        for published, msg in enumerate(run.messages()):
            if published % 200 == 0:
                _apply_repairs(ch.repairs, plans)
                ch.device_now.value = msg.epoch_s
                while published - ch.stored.value > window:
                    time.sleep(0.005)
            publisher.publish(msg.topic, msg.payload, retain=msg.retain)
            ch.published.value = published + 1
        publisher.wait_all_acked(60)
        publisher.close(10)
    except Exception as err:  # reported by the parent, which prints it
        ch.errors.put(f"{type(err).__name__}: {err}")
    finally:
        ch.done.set()


def _apply_repairs(repairs: Any, plans: dict[str, Any]) -> None:
    while True:
        try:
            device_id = repairs.get_nowait()
        except queue.Empty:
            return
        plan = plans.get(device_id)
        if plan is not None:
            plan.severity = 0.0


def start_fleet(
    config: Any, url: MqttUrl, protocol: int, window: int, repairs: Any
) -> tuple[Any, FleetChannels]:
    """Start the fleet process; ``repairs`` is the queue the :class:`RemotePlan` s feed."""
    ctx = multiprocessing.get_context("spawn")
    channels = FleetChannels.make(ctx, repairs)
    process = ctx.Process(
        target=run_fleet,
        args=(config, str(url), protocol, window, channels),
        name="housecall-demo-fleet",
        daemon=True,
    )
    process.start()
    return process, channels


def notice_times_main(config: Any, out: Any) -> None:
    """Ground truth of the unrepaired fleet, for lead times (run in a process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from simulators.fleet import ground_truth

    try:
        out.put({t.device_id: t.notice_at for t in ground_truth(config)})
    except Exception as err:
        out.put(f"{type(err).__name__}: {err}")
