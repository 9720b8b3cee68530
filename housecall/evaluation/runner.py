"""Drive a simulated fleet through the detectors to work orders, fast or over real MQTT.

Two feeds give the same (topic, payload) stream in the same order, so the same seed
gives the same numbers:

- ``in_process``: the simulator's messages go straight to the gateway's parsing;
- ``mqtt``: every message is published (QoS 1, in order, one publisher) to a real broker
  and read back by one subscriber (QoS 1, persistent session), which preserves the order.

Processing is the gateway's journey minus telemetry storage: parse against the contract
(``edge.contract.parse_message``; refusals are counted, never raised), de-duplicate by
``(device_id, seq)``, hand births, telemetry and events to the
:class:`~detectors.fleet.HousecallDetector`, and give every accepted message with its
signals to the gateway's real work-order service
(:class:`~housecall.evaluation.service_orders.ServiceOrders`, on its own SQLite store),
exactly as the gateway's ``Pipeline`` calls its sink. So the orders scored are the ones
the gateway would open (``tests/housecall/evaluation/test_service_orders.py`` checks
that against a real ``Pipeline``). What is left out, storing every sample and the
de-duplication marks, changes no order and would make a 500-device, 60-day run take
hours instead of minutes. De-duplication is the gateway's own
:class:`~gateway.dedup.SeqTracker` (in memory: its marks are not persisted here), so a
message the gateway would drop as a duplicate or stale is dropped here too.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from detectors.api import Signal
from detectors.fleet import HousecallDetector
from edge.contract import (
    AcReadings,
    Birth,
    ContractViolation,
    CycleEndEvent,
    EventBase,
    Fault,
    Kind,
    Telemetry,
    WasherReadings,
    parse_message,
)
from gateway.dedup import EVENT_STREAM, TELEMETRY_STREAM, SeqTracker, Verdict
from housecall.evaluation.misses import JudgedWindows, Miss, explain_misses
from housecall.evaluation.scoring import OpenedOrder, Report, Truth, score
from housecall.evaluation.service_orders import ServiceOrders
from simulators.faults import FaultTruth
from simulators.fleet import FleetConfig, FleetRun

Progress = Callable[[float], None]
WINDOW = 500


@dataclass
class Trace:
    """Residuals of one device, window by window, for the plot."""

    device_id: str
    times: list[datetime] = field(default_factory=list)
    residuals: list[list[float]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


@dataclass
class EvaluationResult:
    report: Report
    truths: list[Truth]
    #: Every order the work-order service opened, oldest first.
    orders: list[OpenedOrder]
    #: What the service did, by action (opened, updated, noticed, escalated, self_fixed...).
    order_actions: dict[str, int]
    messages: int
    rejected: int
    duplicates: int
    late: int
    seconds: float
    detector_seconds: float
    #: Time spent in the work-order service (every message ticks its device-time clock).
    service_seconds: float
    trace: Trace | None
    #: Every noticed gradual fault without a correct order in time, with its cause.
    misses: list[Miss] = field(default_factory=list)
    #: Model of every device of the fleet, by device id.
    models: dict[str, str] = field(default_factory=dict)
    #: How many devices of each kind the fleet had ("ac", "washer").
    kinds: dict[str, int] = field(default_factory=dict)


class Activity:
    """When each device was operating (AC compressor running, washer in a cycle) or heating.

    A sudden fault that strikes while an appliance is off cannot show before it runs
    again; time to detect is therefore also measured from the first operation after
    the onset. An open heater element or a stuck water-temperature probe cannot show
    before the washer next *heats* (a cold program runs as usual), so those are timed
    from the first heating after the onset. A washer's fault takes hold at the start of
    its next cycle (the simulator draws a cycle's faults when the cycle starts: seed
    9002's wm-000013 got its stuck level probe in the middle of a wash, then stood idle
    for 3.6 days, all of them counted as delay), so washer segments end with each
    ``cycle_end`` and a washer fault is timed from the first cycle that starts after it.
    """

    GAP_S = 600.0

    def __init__(self) -> None:
        self.segments: dict[str, list[list[float]]] = {}
        #: Washer stretches with the heater on, the same way.
        self.heating: dict[str, list[list[float]]] = {}
        #: Washers whose last cycle ended since their last sample.
        self._ended: set[str] = set()

    def note(self, telemetry: Telemetry) -> None:
        readings = telemetry.readings
        if isinstance(readings, AcReadings) and not (readings.compressor_hz or 0.0) > 0.0:
            return
        ts = telemetry.ts.timestamp()
        device_id = telemetry.device_id
        new_cycle = device_id in self._ended
        self._ended.discard(device_id)
        self._extend(self.segments, device_id, ts, new=new_cycle)
        if isinstance(readings, WasherReadings) and readings.heater_on:
            self._extend(self.heating, device_id, ts, new=new_cycle)

    def note_cycle_end(self, device_id: str) -> None:
        """The washer's cycle ended: its next sample starts a new segment."""
        self._ended.add(device_id)

    def _extend(
        self, table: dict[str, list[list[float]]], device_id: str, ts: float, *, new: bool
    ) -> None:
        spans = table.setdefault(device_id, [])
        if spans and not new and 0.0 <= ts - spans[-1][1] <= self.GAP_S:
            spans[-1][1] = ts
        else:
            spans.append([ts, ts])

    def first_operation(
        self, device_id: str, at: datetime, *, heating: bool = False, whole_cycles: bool = False
    ) -> datetime | None:
        """``at`` if the device was operating (heating) then, else the start of its next one.

        None when it never operated (heated) again within the run: a fault that struck
        then could not show in any telemetry (seed 1601's AUR-S25-INV ac-000061 lost its
        outdoor fan on day 33.3 and stayed off for the last week of the run).
        ``whole_cycles``: the fault takes hold at the next start of a segment (a washer
        cycle), and with ``heating`` at the first heating from that start on.
        """
        moment = at.timestamp()
        if whole_cycles:
            starts = [s for s, _ in self.segments.get(device_id, []) if s >= moment]
            if not starts:
                return None
            moment = starts[0]
            at = datetime.fromtimestamp(moment, at.tzinfo)
            if not heating:
                return at
        table = self.heating if heating else self.segments
        for start, end in table.get(device_id, []):
            if start <= moment <= end:
                return at
            if start > moment:
                return datetime.fromtimestamp(start, at.tzinfo)
        return None


def shows_only_when_heating(truth: FaultTruth) -> bool:
    """Whether a sudden fault can only show while the washer heats its water.

    >>> from datetime import UTC, datetime
    >>> from edge.contract import Fault, Kind
    >>> def truth(fault, detail=None):
    ...     at = datetime(2026, 6, 1, tzinfo=UTC)
    ...     return FaultTruth("wm-1", Kind.WASHER, "B", "M", fault, at, None, True, 1.0, 1.0,
    ...                       detail=detail)
    >>> shows_only_when_heating(truth(Fault.HEATER_FAILURE))
    True
    >>> shows_only_when_heating(truth(Fault.SENSOR_FAULT, "stuck:water_temp_c"))
    True
    >>> shows_only_when_heating(truth(Fault.SENSOR_FAULT, "stuck:water_level_mm"))
    False
    """
    if truth.kind is not Kind.WASHER:
        return False
    if truth.fault is Fault.HEATER_FAILURE:
        return True
    return truth.fault is Fault.SENSOR_FAULT and (truth.detail or "").endswith(":water_temp_c")


class OrderSink(Protocol):
    """Where the processor sends what the gateway's pipeline sends its sink (and births)."""

    def on_birth(self, birth: Birth) -> None: ...

    def handle(self, device_id: str, ts: datetime, signals: Sequence[Signal]) -> None: ...


class Processor:
    """Parse, de-duplicate, detect and hand on to the sink; the gateway's path minus storage."""

    def __init__(self, detector: HousecallDetector, sink: OrderSink) -> None:
        self.detector = detector
        self.sink = sink
        self.activity = Activity()
        self.tracker = SeqTracker()
        self.messages = 0
        self.rejected = 0
        self.duplicates = 0
        self.detector_seconds = 0.0
        self.service_seconds = 0.0

    def handle(self, topic: str, payload: bytes) -> None:
        self.messages += 1
        try:
            inbound = parse_message(topic, payload)
        except ContractViolation:
            self.rejected += 1
            return
        message = inbound.payload
        if isinstance(message, Birth):
            self.tracker.allow_reset(message.device_id)
            self.detector.on_birth(message)
            self.sink.on_birth(message)
        elif isinstance(message, Telemetry | EventBase):
            stream = TELEMETRY_STREAM if isinstance(message, Telemetry) else EVENT_STREAM
            if (
                self.tracker.check(message.device_id, stream, message.seq).verdict
                is not Verdict.NEW
            ):
                self.duplicates += 1  # a duplicate, or older than the gateway's window
                return
            started = time.perf_counter()
            signals: Sequence[Signal]
            if isinstance(message, Telemetry):
                self.activity.note(message)
                signals = self.detector.on_telemetry(message)
            else:
                if isinstance(message, CycleEndEvent):
                    self.activity.note_cycle_end(message.device_id)
                signals = self.detector.on_event(message)
            detected = time.perf_counter()
            # Every accepted message, signals or not: the service follows device time.
            self.sink.handle(message.device_id, message.ts, signals)
            self.detector_seconds += detected - started
            self.service_seconds += time.perf_counter() - detected


def in_process_feed(run: FleetRun) -> Iterator[tuple[float, str, bytes]]:
    for message in run.messages():
        yield message.epoch_s, message.topic, message.payload


def mqtt_feed(run: FleetRun, url: str) -> Iterator[tuple[float, str, bytes]]:
    """Publish the fleet to a real broker and yield what one subscriber receives, in order."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edge.mqtt_url import MqttUrl

    target = MqttUrl.parse(url)
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    # The publisher stays at most WINDOW messages ahead of the consumer, so the broker
    # never holds more than its per-client queue allows (mosquitto drops beyond it).
    window = threading.Semaphore(WINDOW)
    subscribed = threading.Event()
    client_id = f"housecall-eval-{uuid.uuid4().hex[:8]}"

    def on_connect(client: mqtt.Client, *_: object) -> None:
        client.subscribe("appliances/#", qos=1)

    def on_subscribe(*_: object) -> None:
        subscribed.set()

    def on_message(_client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        received.put((msg.topic, bytes(msg.payload)))

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id + "-sub")
    _auth(sub, target)
    sub.on_connect = on_connect
    sub.on_subscribe = on_subscribe
    sub.on_message = on_message
    sub.max_inflight_messages_set(1000)
    sub.connect(target.host, target.port)
    sub.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError(f"could not subscribe at {url}")
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id + "-pub")
    _auth(pub, target)
    pub.max_inflight_messages_set(200)
    pub.max_queued_messages_set(0)
    pub.connect(target.host, target.port)
    pub.loop_start()
    times: queue.Queue[float] = queue.Queue()

    def publish() -> None:
        for message in run.messages():
            window.acquire()
            # Retained births would be replayed to later runs; the order matters, not retain.
            pub.publish(message.topic, message.payload, qos=1, retain=False)
            times.put(message.epoch_s)
        times.put(-1.0)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        while True:
            epoch = times.get()
            if epoch < 0:
                break
            try:
                topic, payload = received.get(timeout=60)
            except queue.Empty:
                raise RuntimeError("a message sent through the broker did not arrive") from None
            yield epoch, topic, payload
            window.release()
    finally:
        pub.loop_stop()
        pub.disconnect()
        sub.loop_stop()
        sub.disconnect()


def _auth(client: object, target: object) -> None:
    username = getattr(target, "username", None)
    if username:
        client.username_pw_set(username, getattr(target, "password", None))  # type: ignore[attr-defined]


def evaluate(
    config: FleetConfig,
    *,
    mqtt_url: str | None = None,
    progress: Progress | None = None,
    trace_device: str | None = None,
) -> EvaluationResult:
    """Run the fleet, open orders with the real work-order service, score them."""
    started = time.perf_counter()
    run = FleetRun(config)
    detector = HousecallDetector()
    trace = Trace(trace_device) if trace_device else None
    judged = JudgedWindows()

    def on_judged(device_id: str, ts: float, z: list[float], names: list[str]) -> None:
        judged.note(device_id, ts)
        if trace is not None:
            _record(trace, device_id, ts, z, names)

    detector.trace = on_judged
    with ServiceOrders(detector=detector) as sink:
        processor = Processor(detector, sink)
        feed = mqtt_feed(run, mqtt_url) if mqtt_url else in_process_feed(run)
        start = config.start.timestamp()
        span = config.days * 86400.0
        next_report = 0.0
        for epoch, topic, payload in feed:
            processor.handle(topic, payload)
            if progress is not None and epoch >= next_report:
                progress(min(1.0, (epoch - start) / span))
                next_report = epoch + 3600.0
        orders = sink.orders()
        actions = sink.actions
    truths = truths_with_operation(run.truth(), processor.activity)
    device_ids = [d.device_id for d in run.devices]
    kinds = {d.device_id: d.kind.value for d in run.devices}
    report = score(truths, orders, device_ids, config.days, kinds)
    models = {d.device_id: d.model for d in run.devices}
    return EvaluationResult(
        report=report,
        truths=truths,
        orders=orders,
        order_actions=actions,
        messages=processor.messages,
        rejected=processor.rejected,
        duplicates=processor.duplicates,
        late=detector.late_samples,
        seconds=time.perf_counter() - started,
        detector_seconds=processor.detector_seconds,
        service_seconds=processor.service_seconds,
        trace=trace,
        misses=explain_misses(truths, orders, judged, models),
        models=models,
        kinds=dict(Counter(kinds.values())),
    )


def truths_with_operation(faults: Iterable[FaultTruth], activity: Activity) -> list[Truth]:
    """Scoring's truths; a sudden fault also gets the first operation at or after its onset.

    Without it a fan that dies at night would count the hours until the AC next runs as
    detection delay (the time from the onset itself is still reported beside it). A fault
    that shows only while heating gets the first heating (see :func:`shows_only_when_heating`).
    A sudden fault whose appliance never operated again is marked ``operated=False``.
    """
    truths = []
    for t in faults:
        operating_at = (
            activity.first_operation(
                t.device_id,
                t.onset_at,
                heating=shows_only_when_heating(t),
                whole_cycles=t.kind is Kind.WASHER,
            )
            if t.sudden
            else None
        )
        truths.append(
            Truth(
                t.device_id,
                t.fault,
                t.onset_at,
                t.notice_at,
                t.sudden,
                operating_at,
                operated=operating_at is not None or not t.sudden,
                detail=t.detail,
            )
        )
    return truths


def _record(trace: Trace, device_id: str, ts: float, z: list[float], names: list[str]) -> None:
    if device_id != trace.device_id:
        return
    trace.times.append(datetime.fromtimestamp(ts).astimezone())
    trace.residuals.append(list(z))
    trace.names = names
