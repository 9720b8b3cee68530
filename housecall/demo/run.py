"""The whole loop on embedded defaults: fleet -> MQTT -> gateway -> detectors -> work orders.

:class:`DemoRun` starts the real gateway (embedded broker, SQLite in a temp dir),
the service loop (work orders, dispatch, notices, webhooks) and a simulated
field-service team, then publishes a seeded fleet with a few developing faults,
fast-forwarded over weeks of device time, through the broker exactly as appliances
would. Flow control keeps the publisher at most ``window`` messages ahead of what
the gateway has stored (the broker's queue is finite).

Lead time is measured against the customer-notice time of the same fleet WITHOUT
repairs (``simulators.fleet.ground_truth``): the moment the customer would have
seen an error code had nobody come.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.api import FleetDetector, NullDetector
from edge.contract import Fault, Kind, WorkOrderStatus
from gateway.pipeline import BatchResult
from gateway.runtime import Gateway
from gateway.service_loop import ServiceLoop
from gateway.settings import load_settings
from gateway.workorders.service import ServiceConfig, WorkOrderService
from housecall.compose import build_gateway
from housecall.demo.field import DemoFieldService, Repairable, seed_technicians
from housecall.demo.fleet_process import RemotePlan, notice_times_main, start_fleet

log = logging.getLogger(__name__)

#: The demo's developing faults: (kind, fault, onset day, ramp days). Enough variety to
#: show notices (dirty filter, drain filter), technician orders, a verified repair and,
#: on the first entry, a botched repair that reopens. Gradual faults develop over weeks
#: (the fault-signatures note: a leak loses a few percent of charge a week), so each
#: ramps over two weeks or more: the customer notices in the demo's third or fourth week.
DEMO_FAULTS: tuple[tuple[Kind, Fault, float, float], ...] = (
    (Kind.AC, Fault.REFRIGERANT_LEAK, 5.0, 15.0),
    (Kind.AC, Fault.CONDENSER_FOULING, 5.0, 15.0),
    (Kind.AC, Fault.DIRTY_FILTER, 6.0, 14.0),
    (Kind.AC, Fault.OUTDOOR_FAN_FAILURE, 7.0, 14.0),
    (Kind.AC, Fault.COMPRESSOR_WEAR, 5.0, 16.0),
    (Kind.WASHER, Fault.BEARING_WEAR, 5.0, 15.0),
    (Kind.WASHER, Fault.DRAIN_PUMP_CLOG, 6.0, 14.0),
    (Kind.WASHER, Fault.HEATER_FAILURE, 6.0, 14.0),
)
#: The demo's starting point: what the cohorts of a separate healthy fleet learned (its seed
#: is not the demo's), so new units are judged from their first days. Made by:
#: housecall baseline learn housecall/demo/baseline.json.gz --devices 240 --days 21 \
#:     --seed 9001 --ac-interval-s 300 --washer-interval-s 30
DEMO_BASELINE = Path(__file__).with_name("baseline.json.gz")
#: Severity of every demo fault (1.0: it will become visible to the customer).
DEMO_SEVERITY = 1.0


@dataclass
class DemoOptions:
    devices: int = 30
    days: float = 28.0
    seed: int = 7
    api_port: int = 8080
    ac_interval_s: int = 300
    washer_interval_s: int = 30
    window: int = 4000
    workdir: Path | None = None
    #: Cohort models learned on a separate healthy fleet (None: learn from nothing).
    baseline: Path | None = DEMO_BASELINE


@dataclass
class DemoResult:
    messages: int = 0
    stored: int = 0
    wall_s: float = 0.0
    device_days: float = 0.0
    orders: list[dict[str, Any]] = field(default_factory=list)
    truth: list[dict[str, Any]] = field(default_factory=list)
    notices: int = 0
    self_fixed: int = 0
    verified: int = 0
    reopened: int = 0
    false_alarms: int = 0
    webhooks_pending: int = 0
    missing: list[str] = field(default_factory=list)
    api_url: str = ""
    admin_token: str = ""
    workdir: Path | None = None


@dataclass
class Progress:
    """What the live view reads (updated from the publisher and pipeline threads)."""

    device_now: datetime | None = None
    published: int = 0
    stored: int = 0
    total_days: float = 0.0
    start: datetime | None = None
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fraction(self) -> float:
        if self.device_now is None or self.start is None or not self.total_days:
            return 0.0
        return min(1.0, (self.device_now - self.start).total_seconds() / 86400 / self.total_days)


def _load_detector(missing: list[str], baseline: Path | None) -> FleetDetector:
    """The detectors, starting from ``baseline``'s cohorts (None: from nothing)."""
    try:
        from detectors.checkpoint import BaselineError, import_baseline
        from detectors.fleet import HousecallDetector
    except ImportError as err:  # pragma: no cover - depends on the detectors package
        missing.append(f"detectors ({err}); running with NullDetector: no orders will open")
        return NullDetector()
    detector = HousecallDetector()
    if baseline is not None:
        from housecall.commands.baseline import read_baseline

        try:
            import_baseline(detector, read_baseline(baseline))
        except BaselineError as err:
            missing.append(f"baseline {baseline}: {err}; cohorts learn from nothing")
    return detector


class DemoRun:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.progress = Progress(total_days=options.days)
        self.result = DemoResult()
        self.workdir = options.workdir or Path(tempfile.mkdtemp(prefix="housecall-demo-"))
        self.result.workdir = self.workdir
        self.admin_token = secrets.token_urlsafe(18)
        self.gateway: Gateway | None = None
        self.loop: ServiceLoop | None = None
        self._stored = 0
        self._stored_lock = threading.Lock()

    # ------------------------------------------------------------------ assembly

    def fleet(self) -> tuple[Any, dict[str, Repairable], int | None]:
        """The simulated fleet with the demo's faults; (FleetRun, plans, which repair to botch).

        The botched repair is the first device the technicians visit: its evidence
        should stay abnormal, so the order reopens and a second visit fixes it.
        """
        from simulators.fleet import FleetConfig, FleetRun, make_devices
        from simulators.scenario import FaultSpec, Scenario

        o = self.options
        base = FleetConfig(
            devices=o.devices,
            days=o.days,
            seed=o.seed,
            ac_interval_s=o.ac_interval_s,
            washer_interval_s=o.washer_interval_s,
        )
        devices = make_devices(base)
        free = {kind: [d for d in devices if d.kind is kind] for kind in Kind}
        specs = []
        first: str | None = None
        for kind, fault, onset, ramp in DEMO_FAULTS:
            if not free[kind]:
                continue
            dev = free[kind].pop(0)
            first = first or dev.device_id
            specs.append(
                FaultSpec(
                    device=dev.index,
                    fault=fault,
                    onset_day=onset,
                    ramp_days=ramp,
                    severity=DEMO_SEVERITY,
                )
            )
        scenario = Scenario(faults=tuple(specs), explicit_only=True)
        config = replace(base, scenario=scenario)
        run = FleetRun(config)
        self._repairs: Any = multiprocessing.get_context("spawn").Queue()
        plans: dict[str, Repairable] = {
            run.devices[p.device].device_id: RemotePlan(
                run.devices[p.device].device_id, p.fault, p.severity, self._repairs
            )
            for p in run.plans
        }
        self._config = config
        return run, plans, 1 if first else None

    def start(self) -> None:
        o = self.options
        settings = load_settings(
            database_url=f"sqlite:///{self.workdir / 'housecall.db'}",
            api_port=o.api_port,
            admin_token=self.admin_token,
            spool_dir=self.workdir / "spool",
            client_id="housecall-demo-gateway",
        )
        detector = _load_detector(self.result.missing, self.options.baseline)
        self.run, plans, botched = self.fleet()
        self.notice_at: dict[str, datetime | None] = {}
        ctx = multiprocessing.get_context("spawn")
        self._truth_queue = ctx.Queue()
        self._truth_process: Any = ctx.Process(
            target=notice_times_main, args=(self._config, self._truth_queue), daemon=True
        )
        self._truth_process.start()

        def field_service(service: WorkOrderService) -> DemoFieldService:
            seed_technicians(service.sessions, [d.region for d in self.run.devices])
            self.field = DemoFieldService(
                service, plans, visit_after=timedelta(days=1), botch_first_repair_of=botched
            )
            return self.field

        gateway, self.loop = build_gateway(
            settings,
            detector=detector,
            config=ServiceConfig(
                self_fix_grace=timedelta(days=3),
                verify_days=4.0,
                verify_cycles=4,
                recovery_timeout=timedelta(days=4),
                recovery_timeout_cycles=5,
            ),
            sink_wrapper=field_service,
            broker_dir=self.workdir / "broker",
        )
        self.loop.service.listeners.append(self._on_change)
        gateway.add_observer(self._on_batch)
        gateway.start()
        self.loop.start()
        self.gateway = gateway
        self.result.api_url = gateway.api_url
        self.result.admin_token = self.admin_token

    @property
    def protocol(self) -> int:
        """The MQTT level the broker speaks (the embedded amqtt fallback: 3.1.1 only)."""
        ingest = self.gateway.ingest if self.gateway else None
        return int(ingest.protocol) if ingest is not None else 5

    # ------------------------------------------------------------------ running

    def _on_batch(self, result: BatchResult) -> None:
        with self._stored_lock:
            self._stored += result.received
        self.progress.stored = self._stored

    def _on_change(self, what: str, data: dict[str, Any]) -> None:
        with self.progress.lock:
            if what == "notice":
                self.progress.notices.append(data)
            elif "id" in data:
                self.progress.orders[data["id"]] = data

    def publish_fleet(self, on_tick: Callable[[], None] | None = None) -> None:
        """Run the fleet process (simulate + publish) and follow it until all is stored."""
        assert self.gateway is not None
        assert self.gateway.mqtt_url is not None
        self.progress.start = self._config.start
        process, ch = start_fleet(
            self._config, self.gateway.mqtt_url, self.protocol, self.options.window, self._repairs
        )
        self._channels = ch
        try:
            while not ch.done.is_set():
                ch.stored.value = self._stored
                self.progress.published = int(ch.published.value)
                if ch.device_now.value:
                    self.progress.device_now = datetime.fromtimestamp(ch.device_now.value, UTC)
                self._poll_notice_times()
                if self.gateway.last_error:
                    raise RuntimeError(f"gateway stopped: {self.gateway.last_error}")
                if on_tick is not None:
                    on_tick()
                ch.done.wait(0.25)
            self.progress.published = int(ch.published.value)
            with contextlib.suppress(queue.Empty):
                raise RuntimeError(f"the simulated fleet failed: {ch.errors.get_nowait()}")
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop publishing now, not at the end
            process.terminate()
            raise
        finally:
            process.join(30)
            if process.is_alive():
                process.terminate()
        self._drain(on_tick)

    def _poll_notice_times(self, wait_s: float = 0.0) -> None:
        if self._truth_process is None:
            return
        try:
            found = (
                self._truth_queue.get(timeout=wait_s) if wait_s else self._truth_queue.get_nowait()
            )
        except queue.Empty:
            return
        if isinstance(found, str):
            self.result.missing.append(f"customer-notice times unavailable ({found})")
        else:
            self.notice_at.update(found)
        self._truth_process.join(5)
        self._truth_process = None

    def _drain(self, on_tick: Callable[[], None] | None, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._stored < self.progress.published and time.monotonic() < deadline:
            time.sleep(0.05)
            if on_tick is not None:
                on_tick()
        self.progress.device_now = self._config.start + timedelta(days=self.options.days)
        self._poll_notice_times(wait_s=120.0)

    def summarise(self, wall_s: float) -> DemoResult:
        assert self.loop is not None
        service = self.loop.service
        self.loop.webhooks.deliver_due()
        items, cursor = service.list_orders(limit=1000)
        while cursor:
            more, cursor = service.list_orders(limit=1000, cursor=cursor)
            items.extend(more)
        notice_at = self.notice_at
        truth_faults = {dev: str(p.fault) for dev, p in self.field.plans.items()}
        r = self.result
        r.messages = self.progress.published
        r.stored = self._stored
        r.wall_s = wall_s
        r.device_days = self.options.days
        r.orders = []
        for order in sorted(items, key=lambda o: o["opened_at"]):
            notice = notice_at.get(order["device_id"])
            # lead time from the gateway's first action: a self-fix notice or the order
            opened = datetime.fromisoformat(order["first_seen_at"])
            true_fault = truth_faults.get(order["device_id"])
            r.orders.append(
                {
                    **order,
                    "true_fault": true_fault,
                    "correct": true_fault == order["fault"],
                    "notice_at": notice,
                    "lead_days": (notice - opened).total_seconds() / 86400 if notice else None,
                }
            )
        ordered = {(o["device_id"], o["fault"]) for o in items}
        noticed = {(n["device_id"], n["fault"]) for n in self.progress.notices}
        r.truth = [
            {
                "device_id": dev,
                "fault": fault,
                "caught": (dev, fault) in ordered,
                "noticed": (dev, fault) in noticed,
                "self_fixed": (dev, fault) in noticed and (dev, fault) not in ordered,
                "notice_at": notice_at.get(dev),
            }
            for dev, fault in sorted(truth_faults.items())
        ]
        counts = service.counts
        r.notices = len(self.progress.notices)
        r.self_fixed = counts.get("self_fixed", 0)
        r.verified = sum(1 for o in items if o["status"] == WorkOrderStatus.VERIFIED)
        r.reopened = sum(1 for o in items if o["reopened"])
        r.false_alarms = sum(1 for o in items if o["status"] == WorkOrderStatus.FALSE_ALARM)
        return r

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        if self.gateway is not None:
            self.gateway.stop()
