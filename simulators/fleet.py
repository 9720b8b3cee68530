"""A seeded, deterministic fleet of ACs and washers, as contract messages in device-time order.

The API other packages call::

    from simulators.fleet import FleetConfig, simulate, ground_truth, FleetRun

    config = FleetConfig(devices=200, days=30, seed=7)            # start 2026-06-01 UTC
    for msg in simulate(config):          # Iterator[SimMessage], ordered by device time
        msg.ts, msg.device_id, msg.topic, msg.payload, msg.retain
    truth = ground_truth(config)          # list[FaultTruth] (runs the physics, no JSON)

    run = FleetRun(config)                # both at once: iterate, then read the truth
    for msg in run.messages(): ...
    run.truth(); run.devices; run.stats; run.weather.events; run.power_cuts

- ``FleetConfig(devices, days, seed=7, start=2026-06-01T00:00Z, ac_share=0.6,
  ac_interval_s=60, washer_interval_s=10, scenario=None, fault_rate=0.3,
  faults_enabled=True, regions=None, physics_variation=0.0)``; ``config.healthy_twin()`` is
  the same fleet, weather and use with every fault removed. ``physics_variation`` (0..1)
  draws every physics and sensor constant per model and per unit from ranges that widen
  with it (:mod:`simulators.variation`); 0 is the nominal fleet, message for message.
- ``SimMessage`` (a NamedTuple): ``epoch_s``, ``device_id``, ``topic``, ``payload``
  (the exact contract bytes), ``retain`` (births and status), ``channel``; ``ts`` is a
  property giving the aware UTC ``datetime``.
- Devices ``ac-000000`` / ``wm-000001``...: the number is the device's index in the
  fleet (scenario files refer to it). ``run.devices`` lists ``DeviceInfo`` (kind,
  brand, model, region, installed_on, warranty_until, active_from).
- Every device publishes ``birth`` then ``status`` ``online`` when it first connects;
  a power cut publishes its ``status`` ``offline`` (the last will the broker would
  send) and, when power returns, a new ``birth`` and ``online`` before telemetry.
  ``seq`` counts telemetry per device across reboots; events count separately.

Messages are generated window by window (one AC interval of device time): the ACs
are stepped together as arrays, washer cycles are generated whole when they start
and released as device time reaches them, so memory stays bounded for any run length.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import numpy as np
import orjson

from edge.contract import (
    BIRTH_SCHEMA,
    EVENT_SCHEMA,
    TELEMETRY_SCHEMA,
    Channel,
    Fault,
    Kind,
    appliance_topic,
)
from simulators.ac import (
    AC_FIELDS,
    CODE_SENSOR,
    MODE_NAMES,
    SENSOR_ROWS,
    AcFaultInputs,
    AcFleet,
)
from simulators.ac import ERROR_TEXT as AC_ERROR_TEXT
from simulators.catalog import (
    AC_MODELS,
    AC_REGION_WEIGHTS,
    REGIONS,
    WASHER_MODELS,
    AcModel,
    WasherModel,
)
from simulators.faults import DAY_S, FaultPlan, FaultTruth, draw_plan
from simulators.scenario import Confounders, Scenario
from simulators.variation import (
    AC_SPREADS,
    AC_STREAM,
    WASHER_SPREADS,
    WASHER_STREAM,
    FloatArray,
    UnitConstants,
    draw_constants,
)
from simulators.washer import ERROR_TEXT as WASHER_ERROR_TEXT
from simulators.washer import WASHER_FIELDS, CycleResult, WasherFaults, WasherUnit, run_cycle
from simulators.weather import RegionalWeather, mains_water_c

DEFAULT_START = datetime(2026, 6, 1, tzinfo=UTC)
#: Share of washer cycles the user pauses for a few minutes (door opened to add a sock).
PAUSED_CYCLE_SHARE = 0.04

_ORDER = {Channel.STATUS: 0, Channel.BIRTH: 1, Channel.TELEMETRY: 2, Channel.EVENTS: 3}
_BIRTH_ORDER = 0  # a reconnect: birth first
_ONLINE_ORDER = 1


class SimMessage(NamedTuple):
    """One MQTT message of the fleet, with the device time it carries."""

    epoch_s: float
    device_id: str
    topic: str
    payload: bytes
    retain: bool
    channel: Channel

    @property
    def ts(self) -> datetime:
        """Device time of the message (the payload's ``ts``) as an aware UTC datetime."""
        return datetime.fromtimestamp(self.epoch_s, UTC)


#: Share of air conditioners in a fleet unless told otherwise (the rest are washers).
DEFAULT_AC_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """What fleet to simulate; everything else follows from ``seed``."""

    devices: int
    days: float
    seed: int = 7
    start: datetime = DEFAULT_START
    ac_share: float = DEFAULT_AC_SHARE
    ac_interval_s: int = 60
    washer_interval_s: int = 10
    scenario: Scenario | None = None
    #: Share of devices that get one fault in the default mix (scenario may override).
    fault_rate: float = 0.3
    #: False: the healthy twin (same weather, use and randomness; no faults).
    faults_enabled: bool = True
    #: Restrict the fleet to these regions (ISO 3166-2 codes of the catalogue); None: all.
    regions: tuple[str, ...] | None = None
    #: Domain randomisation, 0..1: 0 the nominal physics, 1 every constant drawn wide.
    physics_variation: float = 0.0

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise ValueError("devices must be at least 1")
        if not 0 < self.days <= 3660:
            raise ValueError("days must be > 0 and at most 3660")
        if not 30 <= self.ac_interval_s <= 300:
            raise ValueError("the AC interval must be 30 to 300 s (contract)")
        if not 5 <= self.washer_interval_s <= 60:
            raise ValueError("the washer interval must be 5 to 60 s (contract)")
        if not 0.0 <= self.ac_share <= 1.0 or not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("ac_share and fault_rate must be between 0 and 1")
        if not 0.0 <= self.physics_variation <= 1.0:
            raise ValueError("physics_variation must be between 0 and 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.regions is not None:
            unknown = sorted(set(self.regions) - set(REGIONS))
            if unknown or not self.regions:
                known = ", ".join(sorted(REGIONS))
                raise ValueError(f"unknown regions {unknown} (known: {known})")

    def healthy_twin(self) -> FleetConfig:
        """The same fleet under identical weather and use, with every fault removed."""
        return replace(self, faults_enabled=False)

    @property
    def effective_ac_share(self) -> float:
        if self.scenario is not None and self.scenario.ac_share is not None:
            return self.scenario.ac_share
        return self.ac_share

    @property
    def effective_fault_rate(self) -> float:
        if self.scenario is not None and self.scenario.fault_rate is not None:
            return self.scenario.fault_rate
        return self.fault_rate

    @property
    def confounders(self) -> Confounders:
        return self.scenario.confounders if self.scenario else Confounders()


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One simulated appliance as its birth message describes it."""

    index: int
    device_id: str
    kind: Kind
    brand: str
    model: str
    spec: AcModel | WasherModel
    region: str
    postcode: str
    serial: str
    firmware: str
    installed_on: date
    warranty_until: date
    #: Device time (epoch s) of its first connection: brand-new units appear mid-run.
    active_from_s: float


@dataclass
class RunStats:
    """Counts of what a run produced (for the CLI's summary table)."""

    telemetry: int = 0
    events: int = 0
    births: int = 0
    status: int = 0
    errors: int = 0
    #: Errors not attributable to an injected fault (see ``FaultPlan.attributable``).
    errors_on_healthy: int = 0
    cycles: int = 0
    power_cuts: int = 0
    #: Error codes raised by units without an (active) injected fault: should stay rare.
    healthy_error_codes: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return self.telemetry + self.events + self.births + self.status


def make_devices(config: FleetConfig) -> list[DeviceInfo]:
    """The fleet's devices: kind, model, region, install and warranty dates, all seeded."""
    rng = np.random.default_rng([config.seed, 1])
    n = config.devices
    n_ac = round(n * config.effective_ac_share)
    kinds = np.array([Kind.AC] * n_ac + [Kind.WASHER] * (n - n_ac), dtype=object)
    rng.shuffle(kinds)
    start = config.start
    start_s = start.timestamp()
    new_share = config.confounders.new_unit_share
    regions = sorted(config.regions or REGIONS)
    out = []
    for i in range(n):
        kind = Kind(kinds[i])
        spec: AcModel | WasherModel
        if kind is Kind.AC:
            spec = AC_MODELS[int(rng.integers(len(AC_MODELS)))]
            prefix = "ac"
        else:
            spec = WASHER_MODELS[int(rng.integers(len(WASHER_MODELS)))]
            prefix = "wm"
        region_u = rng.random()
        if kind is Kind.AC:
            cum = np.cumsum([AC_REGION_WEIGHTS[r] for r in regions])
            region = regions[int(np.searchsorted(cum / cum[-1], region_u, side="right"))]
        else:
            region = regions[min(int(region_u * len(regions)), len(regions) - 1)]
        new = rng.random() < new_share
        appears_mid_run = new and rng.random() < 0.5 and config.days > 4
        if appears_mid_run:
            active_from = start_s + float(rng.uniform(1.0, min(config.days * 0.5, 20.0))) * DAY_S
            installed = datetime.fromtimestamp(active_from, UTC).date()
        elif new:
            installed = (start - timedelta(days=float(rng.uniform(0, 14)))).date()
            active_from = start_s
        else:
            installed = (start - timedelta(days=float(rng.uniform(60, 365 * 6)))).date()
            active_from = start_s
        warranty_years = 3 if spec.brand == "Aurora" else 2
        warranty = add_years(installed, warranty_years)
        serial = f"{spec.serial_prefix}K{installed:%y%m}{int(rng.integers(10000, 99999))}"
        out.append(
            DeviceInfo(
                index=i,
                device_id=f"{prefix}-{i:06d}",
                kind=kind,
                brand=spec.brand,
                model=spec.model,
                spec=spec,
                region=region,
                postcode=REGIONS[region].postcode,
                serial=serial,
                firmware=spec.firmware,
                installed_on=installed,
                warranty_until=warranty,
                active_from_s=active_from,
            )
        )
    return out


def plan_faults(config: FleetConfig, devices: list[DeviceInfo]) -> list[FaultPlan]:
    """Which device gets which fault when: scenario entries first, then the seeded mix."""
    rng = np.random.default_rng([config.seed, 3])
    scenario = config.scenario or Scenario()
    start_s = config.start.timestamp()
    days = config.days
    by_id = {d.device_id: d for d in devices}
    plans: dict[int, FaultPlan] = {}
    for spec in scenario.faults:
        if isinstance(spec.device, int):
            if not 0 <= spec.device < len(devices):
                raise ValueError(
                    f"scenario device {spec.device} is not in a fleet of {len(devices)}"
                )
            dev = devices[spec.device]
        else:
            if spec.device not in by_id:
                raise ValueError(f"scenario device {spec.device!r} is not in the fleet")
            dev = by_id[spec.device]
        prng = np.random.default_rng([config.seed, 31, dev.index])
        plans[dev.index] = draw_plan(
            prng,
            dev.index,
            dev.kind,
            spec.fault,
            start_s + spec.onset_day * DAY_S,
            ramp_days=spec.ramp_days,
            severity=spec.severity,
            sudden=spec.sudden,
            sensor=spec.sensor,
            sensor_mode=spec.sensor_mode,
            variation=config.physics_variation,
        )
    rate = config.effective_fault_rate
    for dev in devices:
        # Draw for every device, used or not, so the twin and scenarios stay aligned.
        u = rng.random()
        pick = rng.random()
        onset_u = rng.random()
        prng = np.random.default_rng([config.seed, 32, dev.index])
        if scenario.explicit_only or dev.index in plans or u >= rate:
            continue
        kind_faults = sorted(
            (f for f in Fault if _fault_kind_ok(f, dev.kind)), key=lambda f: f.value
        )
        weights = np.array([scenario.mix.get(f, 1.0) for f in kind_faults])
        if weights.sum() <= 0:
            continue
        cum = np.cumsum(weights / weights.sum())
        fault = kind_faults[int(np.searchsorted(cum, pick, side="right").clip(0, len(cum) - 1))]
        first = max(start_s, dev.active_from_s) + 2.0 * DAY_S
        plan = draw_plan(
            prng, dev.index, dev.kind, fault, first, variation=config.physics_variation
        )
        # Gradual faults develop over weeks but fit the run, and start early enough
        # that most become noticeable before it ends (ground truth says when not).
        plan.ramp_s = min(plan.ramp_s, max(10.0, 0.8 * days - 2.0) * DAY_S)
        last = (
            start_s + max(days - plan.ramp_s / DAY_S - 2.0, 2.5) * DAY_S
            if not plan.sudden
            else start_s + (days - 1.0) * DAY_S
        )
        last = max(last, first)
        plan.onset_s = first + onset_u * (last - first)
        plans[dev.index] = plan
    return [plans[i] for i in sorted(plans)]


def _fault_kind_ok(fault: Fault, kind: Kind) -> bool:
    from edge.contract import FAULTS_BY_KIND

    return fault in FAULTS_BY_KIND[kind]


def _iso(epoch_s: float) -> str:
    text = datetime.fromtimestamp(epoch_s, UTC).isoformat()
    return text.replace("+00:00", "Z")


_DAY_PREFIX: dict[int, str] = {}


def _iso_int(epoch_s: int) -> str:
    """RFC 3339 UTC text of whole epoch seconds, fast: a cached date, then arithmetic.

    >>> _iso_int(1780272017)
    '2026-06-01T00:00:17Z'
    """
    day, second = divmod(epoch_s, 86400)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%dT")
        _DAY_PREFIX[day] = prefix
    hour, rest = divmod(second, 3600)
    minute, sec = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}Z"


class FleetRun:
    """One simulation run: iterate :meth:`messages`, then read :meth:`truth` and ``stats``."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.devices = make_devices(config)
        self.plans = plan_faults(config, self.devices) if config.faults_enabled else []
        self.stats = RunStats()
        #: Filled in as the run starts: the weather (with its heat waves and cold snaps)
        #: and the power cuts per region, for labelling confounders in an evaluation.
        self.weather: RegionalWeather | None = None
        self.power_cuts: dict[str, list[tuple[float, float]]] = {}
        self._done = False
        self._started = False
        self._topics = {
            d.device_id: {ch: appliance_topic(d.device_id, ch) for ch in Channel}
            for d in self.devices
        }
        self._ac_devs = [d for d in self.devices if d.kind is Kind.AC]
        self._wm_devs = [d for d in self.devices if d.kind is Kind.WASHER]
        v = config.physics_variation
        #: Physics and sensor constants per unit (arrays over the fleet's ACs and washers,
        #: in fleet order), drawn from their own seeded streams.
        self.ac_constants = draw_constants(
            AC_SPREADS,
            v,
            [_catalogue_index(d) for d in self._ac_devs],
            [d.index for d in self._ac_devs],
            seed=config.seed,
            stream=AC_STREAM,
        )
        self.washer_constants = draw_constants(
            WASHER_SPREADS,
            v,
            [_catalogue_index(d) for d in self._wm_devs],
            [d.index for d in self._wm_devs],
            seed=config.seed,
            stream=WASHER_STREAM,
        )

    def constants(self, device_id: str) -> dict[str, float]:
        """One device's physics and sensor constants (see :mod:`simulators.variation`)."""
        for devs, table in (
            (self._ac_devs, self.ac_constants),
            (self._wm_devs, self.washer_constants),
        ):
            for pos, dev in enumerate(devs):
                if dev.device_id == device_id:
                    return dict(UnitConstants(table, pos))
        raise KeyError(device_id)

    # -- public ------------------------------------------------------------------------------

    def messages(self, *, encode: bool = True) -> Iterator[SimMessage]:
        """Every message of the run in device-time order (``encode=False``: physics only).

        A run is one pass of device time: iterate it once (make a new ``FleetRun``, or
        call :func:`simulate` again, for a second pass; the seed makes it identical).
        """
        self._claim()
        yield from self._run(encode)
        self._done = True

    def run_to_end(self) -> None:
        """Run the physics without building payloads (for the ground truth alone)."""
        self._claim()
        for _ in self._run(False):
            pass
        self._done = True

    def _claim(self) -> None:
        if self._started:
            raise RuntimeError("a FleetRun runs once; make a new one for another pass")
        self._started = True

    def truth(self) -> list[FaultTruth]:
        """Ground truth of every injected fault; notice times need the run to have finished."""
        if not self._done:
            if self._started:
                raise RuntimeError("the run is not finished: iterate messages() to the end first")
            self.run_to_end()
        out = []
        for plan in self.plans:
            dev = self.devices[plan.device]
            detail = None
            if plan.sensor:
                detail = f"{plan.sensor_mode}:{plan.sensor}"
            elif plan.fault is Fault.DRAIN_PUMP_CLOG:
                detail = "dry_run" if _dry_run(self.config.seed, plan.device) else "jammed"
            notice = plan.notice_s
            out.append(
                FaultTruth(
                    device_id=dev.device_id,
                    kind=dev.kind,
                    brand=dev.brand,
                    model=dev.model,
                    fault=plan.fault,
                    onset_at=datetime.fromtimestamp(plan.onset_s, UTC),
                    notice_at=datetime.fromtimestamp(notice, UTC) if notice is not None else None,
                    sudden=plan.sudden,
                    severity=round(plan.severity, 3),
                    ramp_days=round(plan.ramp_s / DAY_S, 2),
                    notice_code=plan.notice_code,
                    detail=detail,
                )
            )
        return out

    # -- the loop ------------------------------------------------------------------------------

    def _run(self, encode: bool) -> Iterator[SimMessage]:
        cfg = self.config
        conf = cfg.confounders
        start_s = cfg.start.timestamp()
        end_s = start_s + cfg.days * DAY_S
        window = float(cfg.ac_interval_s)
        ac_devs = self._ac_devs
        wm_devs = self._wm_devs
        regions = sorted({d.region for d in self.devices})
        region_pos = {r: i for i, r in enumerate(regions)}
        weather = RegionalWeather.build(
            regions,
            cfg.start,
            cfg.days,
            cfg.seed,
            heat_waves=conf.heat_waves,
            cold_snaps=conf.cold_snaps,
        )
        cuts = self._power_cuts(regions, start_s, end_s, conf.power_cuts_per_month)
        self.weather = weather
        self.power_cuts = {r: cuts[i] for i, r in enumerate(regions)}
        plans_by_dev = {p.device: p for p in self.plans}

        # ACs as arrays.
        n_ac = len(ac_devs)
        ac_rng = np.random.default_rng([cfg.seed, 2])
        ac_region = np.array([region_pos[d.region] for d in ac_devs], dtype=np.int64)
        ac_offset_h = np.array([REGIONS[d.region].utc_offset_h for d in ac_devs])
        ac_new = np.array(
            [(cfg.start.date() - d.installed_on).days < 21 for d in ac_devs], dtype=bool
        )
        fleet = (
            AcFleet(
                [d.spec for d in ac_devs],  # type: ignore[misc]
                ac_region,
                ac_offset_h,
                ac_rng,
                ac_new,
                windows_per_week=conf.windows_per_week,
                glitch_rate=conf.glitch_rate,
                physics=self.ac_constants,
            )
            if n_ac
            else None
        )
        ac_micro = ac_rng.normal(0.0, 0.8, n_ac)
        ac_phase = ac_rng.integers(0, cfg.ac_interval_s, n_ac).astype(np.float64)
        ac_plans = [
            (k, plans_by_dev[d.index]) for k, d in enumerate(ac_devs) if d.index in plans_by_dev
        ]
        ac_seq = [0] * n_ac
        ev_seq = [0] * len(self.devices)
        tel_seq = [0] * len(self.devices)
        online = [False] * len(self.devices)
        prev_powered = np.zeros(n_ac, dtype=bool)

        # Washers: next cycle start per unit.
        nominal_washers = cfg.physics_variation == 0.0
        wm_units = [
            WasherUnit(
                d.spec,  # type: ignore[arg-type]
                np.random.default_rng([cfg.seed, 5, d.index]),
                None if nominal_washers else UnitConstants(self.washer_constants, w),
            )
            for w, d in enumerate(wm_devs)
        ]
        wm_sched_rng = [np.random.default_rng([cfg.seed, 6, d.index]) for d in wm_devs]
        wm_cycle_no = [0] * len(wm_devs)
        wm_next = [
            self._next_cycle(max(start_s, d.active_from_s), u, r, REGIONS[d.region].utc_offset_h)
            for d, u, r in zip(wm_devs, wm_units, wm_sched_rng, strict=True)
        ]
        wm_busy_until = [0.0] * len(wm_devs)

        pending: list[tuple[float, int, int, int, SimMessage | None]] = []
        tick = 0

        def push(epoch: float, dev: DeviceInfo, order: int, msg: SimMessage | None) -> None:
            nonlocal tick
            tick += 1
            heapq.heappush(pending, (epoch, dev.index, order, tick, msg))

        def connect(dev: DeviceInfo, at: float) -> None:
            online[dev.index] = True
            self.stats.births += 1
            self.stats.status += 1
            push(at, dev, _BIRTH_ORDER, self._birth(dev, at) if encode else None)
            push(at, dev, _ONLINE_ORDER, self._status(dev, at, "online") if encode else None)

        def disconnect(dev: DeviceInfo, at: float) -> None:
            online[dev.index] = False
            self.stats.status += 1
            push(at, dev, _ONLINE_ORDER, self._status(dev, at, "offline") if encode else None)

        def event(dev: DeviceInfo, at: float, etype: str, data: dict[str, object]) -> None:
            seq = ev_seq[dev.index]
            ev_seq[dev.index] = seq + 1
            self.stats.events += 1
            if etype == "error":
                self.stats.errors += 1
                plan = plans_by_dev.get(dev.index)
                if plan is None or not plan.attributable(at, str(data.get("code"))):
                    self.stats.errors_on_healthy += 1
                    code = str(data.get("code"))
                    codes = self.stats.healthy_error_codes
                    codes[code] = codes.get(code, 0) + 1
            if encode:
                payload = orjson.dumps(
                    {
                        "schema": EVENT_SCHEMA,
                        "device_id": dev.device_id,
                        "seq": seq,
                        "ts": _iso(at),
                        "type": etype,
                        "data": data,
                    }
                )
                msg = SimMessage(
                    at,
                    dev.device_id,
                    self._topics[dev.device_id][Channel.EVENTS],
                    payload,
                    False,
                    Channel.EVENTS,
                )
            else:
                msg = None
            push(at, dev, 3, msg)

        steps = math.ceil(cfg.days * DAY_S / window)
        region_cut_state = [False] * len(regions)
        # Moments when who is connected can change: cut edges and brand-new units appearing.
        changes = sorted(
            {start_s}
            | {edge for spans in cuts for span in spans for edge in span}
            | {d.active_from_s for d in self.devices}
        )
        ac_index = np.array([d.index for d in ac_devs], dtype=np.int64)
        ac_from = np.array([d.active_from_s for d in ac_devs])
        online_arr = np.zeros(len(self.devices), dtype=bool)
        for k in range(steps):
            t = start_s + k * window
            t_end = t + window
            # Power: cuts by region; devices reconnect with a birth when it returns.
            # (State is read at the window's start; look again in the window after a change.)
            near = bisect.bisect_left(changes, t - window)
            if near < len(changes) and changes[near] < t_end:
                cut_now = [self._in_cut(cuts[r], t) for r in range(len(regions))]
                for r, is_cut in enumerate(cut_now):
                    if is_cut and not region_cut_state[r]:
                        self.stats.power_cuts += 1
                    region_cut_state[r] = is_cut
                self._update_connections(
                    t,
                    window,
                    cut_now=cut_now,
                    region_pos=region_pos,
                    online=online,
                    connect=connect,
                    disconnect=disconnect,
                )
                online_arr = np.array(online, dtype=bool)
            # ACs, all at once.
            if fleet is not None:
                dt = window
                outdoor = weather.outdoor_c(ac_region, t) + ac_micro
                sun = weather.sunshine(ac_region, t)
                daily = weather.daily_mean_c(ac_region, t)
                powered_arr = online_arr[ac_index] & (t + ac_phase >= ac_from)
                faults, sensor_events = self._ac_fault_inputs(n_ac, ac_plans, t, fleet.k)
                step = fleet.step(
                    t,
                    dt,
                    outdoor=outdoor,
                    sun=sun,
                    daily_mean=daily,
                    powered=powered_arr,
                    faults=faults,
                )
                for j, code in step.errors:
                    if not powered_arr[j]:
                        continue
                    dev = ac_devs[j]
                    at = t + ac_phase[j]
                    event(dev, at, "error", {"code": code, "text": AC_ERROR_TEXT[code]})
                    plan = plans_by_dev.get(dev.index)
                    if plan is not None:
                        plan.notice(at, code)
                for j in sensor_events:
                    if not powered_arr[j]:
                        continue
                    dev = ac_devs[j]
                    at = t + ac_phase[j]
                    event(
                        dev, at, "error", {"code": CODE_SENSOR, "text": AC_ERROR_TEXT[CODE_SENSOR]}
                    )
                    plans_by_dev[dev.index].notice(at, CODE_SENSOR)
                for j, action, value in step.user:
                    if powered_arr[j] and prev_powered[j]:
                        event(
                            ac_devs[j], t + ac_phase[j], "user", {"action": action, "value": value}
                        )
                prev_powered = powered_arr
                live = np.nonzero(powered_arr)[0]
                self.stats.telemetry += int(live.size)
                if encode and live.size:
                    rows = step.values[:, live].T.tolist()
                    modes = step.mode[live].tolist()
                    for pos, j in enumerate(live.tolist()):
                        dev = ac_devs[j]
                        seq = tel_seq[dev.index]
                        tel_seq[dev.index] = seq + 1
                        at = t + float(ac_phase[j])
                        readings: dict[str, object] = {"mode": MODE_NAMES[modes[pos]]}
                        for name, v in zip(AC_FIELDS, rows[pos], strict=True):
                            readings[name] = None if v != v else v  # noqa: PLR0124
                        payload = orjson.dumps(
                            {
                                "schema": TELEMETRY_SCHEMA,
                                "device_id": dev.device_id,
                                "seq": seq,
                                "ts": _iso_int(int(at)),
                                "readings": readings,
                            }
                        )
                        msg = SimMessage(
                            at,
                            dev.device_id,
                            self._topics[dev.device_id][Channel.TELEMETRY],
                            payload,
                            False,
                            Channel.TELEMETRY,
                        )
                        push(at, dev, 2, msg)
                else:
                    for j in live.tolist():
                        tel_seq[ac_devs[j].index] += 1
                _ = ac_seq

            # Washers: start the cycles due in this window.
            for w, dev in enumerate(wm_devs):
                while wm_next[w] < t_end and wm_next[w] < end_s:
                    begin = wm_next[w]
                    unit = wm_units[w]
                    sched = wm_sched_rng[w]
                    if begin < wm_busy_until[w]:
                        begin = wm_busy_until[w] + 600.0
                    program, load, unbalance = unit.choose(sched)
                    if sched.random() < conf.unbalanced_share:
                        unbalance = float(sched.uniform(0.6, 1.4))  # a towel bundle
                    pause_draw = float(sched.random())
                    pause_len = float(sched.uniform(120.0, 600.0))
                    pause = pause_len if pause_draw < PAUSED_CYCLE_SHARE else 0.0
                    cycle_rng = np.random.default_rng([cfg.seed, 7, dev.index, wm_cycle_no[w]])
                    wm_cycle_no[w] += 1
                    cut_region = cuts[region_pos[dev.region]]
                    if self._in_cut(cut_region, begin) or begin < dev.active_from_s:
                        wm_next[w] = self._next_cycle(
                            begin + 3600.0, unit, sched, REGIONS[dev.region].utc_offset_h
                        )
                        continue
                    begin = float(math.floor(begin))  # firmware clocks tick in seconds
                    inlet = mains_water_c(dev.region, begin)
                    wf, sensor_opened = self._washer_faults(
                        plans_by_dev.get(dev.index), begin, unit.k
                    )
                    result = run_cycle(
                        unit,
                        program,
                        load_kg=load,
                        unbalance_kg=unbalance,
                        inlet_c=inlet,
                        faults=wf,
                        rng=cycle_rng,
                        interval_s=float(cfg.washer_interval_s),
                        pause_s=pause,
                        glitch_rate=conf.glitch_rate,
                    )
                    self.stats.cycles += 1
                    self._emit_cycle(
                        dev,
                        begin=begin,
                        result=result,
                        cut_region=cut_region,
                        push=push,
                        event=event,
                        tel_seq=tel_seq,
                        encode=encode,
                    )
                    if result.error_code is not None:
                        plan = plans_by_dev.get(dev.index)
                        end_at = begin + result.duration_s
                        if plan is not None and not self._cut_between(cut_region, begin, end_at):
                            plan.notice(end_at, result.error_code)
                    _ = sensor_opened
                    wm_busy_until[w] = begin + result.duration_s
                    wm_next[w] = self._next_cycle(
                        wm_busy_until[w] + 900.0, unit, sched, REGIONS[dev.region].utc_offset_h
                    )

            # Release everything due before the end of this window, in device-time order.
            while pending and pending[0][0] < t_end:
                due = heapq.heappop(pending)[4]
                if due is not None:
                    yield due
        while pending:
            item = heapq.heappop(pending)
            if item[0] >= end_s:
                continue
            if item[4] is not None:
                yield item[4]
        for dev in self.devices:
            self.stats.by_kind[dev.kind.value] = self.stats.by_kind.get(dev.kind.value, 0) + 1

    # -- helpers ---------------------------------------------------------------------------------

    def _update_connections(
        self,
        t: float,
        window: float,
        *,
        cut_now: list[bool],
        region_pos: dict[str, int],
        online: list[bool],
        connect: Callable[[DeviceInfo, float], None],
        disconnect: Callable[[DeviceInfo, float], None],
    ) -> None:
        for dev in self.devices:
            if t + window <= dev.active_from_s:
                continue
            powered = not cut_now[region_pos[dev.region]]
            at = max(t, dev.active_from_s)
            if powered and not online[dev.index]:
                connect(dev, at)
            elif not powered and online[dev.index]:
                disconnect(dev, at)

    def _ac_fault_inputs(
        self,
        n: int,
        ac_plans: list[tuple[int, FaultPlan]],
        t: float,
        k: dict[str, FloatArray],
    ) -> tuple[AcFaultInputs, list[int]]:
        """Each faulty unit's physical degradation now: its level times its magnitude."""
        faults = AcFaultInputs.healthy(n)
        sensor_events: list[int] = []
        for j, plan in ac_plans:
            level = plan.level(t)
            if level <= 0.0:
                continue
            f = plan.fault
            if f is Fault.REFRIGERANT_LEAK:
                faults.charge_deficit[j] = min(k["fault_charge"][j] * level, 0.7)
            elif f is Fault.CONDENSER_FOULING:
                faults.condenser_fouling[j] = min(k["fault_fouling"][j] * level, 0.95)
            elif f is Fault.OUTDOOR_FAN_FAILURE:
                fade = min(k["fault_fan"][j] * level, 1.0)
                faults.fan_health[j] = 0.0 if plan.sudden else 1.0 - fade
            elif f is Fault.DIRTY_FILTER:
                faults.filter_block[j] = min(k["fault_filter"][j] * level, 0.98)
            elif f is Fault.COMPRESSOR_WEAR:
                faults.compressor_wear[j] = min(k["fault_wear"][j] * level, 0.95)
            elif f is Fault.SENSOR_FAULT and plan.sensor in SENSOR_ROWS:
                faults.sensor_row[j] = SENSOR_ROWS[plan.sensor]
                failed = t >= plan.onset_s + plan.ramp_s
                if failed:
                    faults.sensor_mode[j] = 3
                    if plan.notice_s is None:
                        sensor_events.append(j)
                elif plan.sensor_mode == "stuck":
                    faults.sensor_mode[j] = 1
                else:
                    faults.sensor_mode[j] = 2
                    sign = 1.0 if plan.device % 2 == 0 else -1.0
                    faults.sensor_drift_k[j] = sign * (1.0 + 9.0 * level) * k["fault_drift_k"][j]
        return faults, sensor_events

    def _washer_faults(
        self, plan: FaultPlan | None, t: float, k: Mapping[str, float]
    ) -> tuple[WasherFaults, bool]:
        """One washer's degradation for the cycle starting at ``t`` (level times magnitude)."""
        wf = WasherFaults()
        if plan is None:
            return wf, False
        level = plan.level(t)
        if level <= 0.0:
            return wf, False
        f = plan.fault
        mech = min(1.0, level * k["fault_mech"])
        if f is Fault.BEARING_WEAR:
            wf.bearing = mech
        elif f is Fault.DRAIN_PUMP_CLOG:
            wf.drain_clog = min(0.99, k["fault_drain"] * level)
            wf.drain_dry_run = _dry_run(self.config.seed, plan.device)
        elif f is Fault.INLET_VALVE_RESTRICTION:
            wf.inlet_restriction = min(0.98, k["fault_inlet"] * level)
        elif f is Fault.HEATER_FAILURE:
            if plan.sudden:
                wf.heater_open = True
            else:
                wf.heater_scale = min(1.0, k["fault_heater"] * level)
        elif f is Fault.MOTOR_BELT_SLIP:
            wf.belt_slip = mech
        elif f is Fault.SUSPENSION_WEAR:
            wf.suspension = mech
        elif f is Fault.SENSOR_FAULT:
            wf.sensor = plan.sensor
            failed = t >= plan.onset_s + plan.ramp_s
            wf.sensor_mode = "open" if failed else plan.sensor_mode
            scale = 12.0 if plan.sensor == "water_temp_c" else 40.0
            sign = 1.0 if plan.device % 2 == 0 else -1.0
            wf.sensor_offset = sign * scale * level * k["fault_probe_k"]
            return wf, failed
        return wf, False

    def _emit_cycle(
        self,
        dev: DeviceInfo,
        *,
        begin: float,
        result: CycleResult,
        cut_region: list[tuple[float, float]],
        push: Callable[[float, DeviceInfo, int, SimMessage | None], None],
        event: Callable[[DeviceInfo, float, str, dict[str, object]], None],
        tel_seq: list[int],
        encode: bool,
    ) -> None:
        stop_at = math.inf
        for a, b in cut_region:
            if b > begin and a < begin + result.duration_s:
                stop_at = min(stop_at, max(a, begin))
        offsets = result.offsets_s.tolist()
        rows = result.values.T.tolist() if encode else None
        topic = self._topics[dev.device_id][Channel.TELEMETRY]
        device_id = dev.device_id
        program = result.program
        for i, offset in enumerate(offsets):
            at = begin + offset
            if at >= stop_at:
                break
            seq = tel_seq[dev.index]
            tel_seq[dev.index] = seq + 1
            self.stats.telemetry += 1
            if rows is None:
                continue
            readings: dict[str, object] = {
                "phase": result.phases[i],
                "program": program,
                "heater_on": result.heater_on[i],
                "door_locked": result.door_locked[i],
            }
            for name, v in zip(WASHER_FIELDS, rows[i], strict=True):
                if v == v:  # noqa: PLR0124 (NaN test, fastest form)
                    readings[name] = v
                elif name[0] != "x":  # optional x_ features are left out, not null
                    readings[name] = None
            payload = orjson.dumps(
                {
                    "schema": TELEMETRY_SCHEMA,
                    "device_id": device_id,
                    "seq": seq,
                    "ts": _iso_int(int(at)) if at.is_integer() else _iso(at),
                    "readings": readings,
                }
            )
            push(at, dev, 2, SimMessage(at, device_id, topic, payload, False, Channel.TELEMETRY))
        for offset, action in result.user:
            if begin + offset < stop_at:
                event(dev, begin + offset, "user", {"action": action, "value": program})
        end_at = begin + result.duration_s
        if end_at >= stop_at:
            return
        if result.error_code is not None:
            text = WASHER_ERROR_TEXT[result.error_code]
            event(dev, end_at, "error", {"code": result.error_code, "text": text})
        event(dev, end_at, "cycle_end", dict(result.summary))

    def _power_cuts(
        self, regions: list[str], start_s: float, end_s: float, per_month: float
    ) -> list[list[tuple[float, float]]]:
        out = []
        for i, _ in enumerate(regions):
            rng = np.random.default_rng([self.config.seed, 4, i])
            n = rng.poisson(per_month * (end_s - start_s) / (30 * DAY_S))
            spans = []
            for _ in range(n):
                a = float(rng.uniform(start_s + 3600.0, end_s))
                length = float(np.clip(rng.lognormal(math.log(2400.0), 0.8), 600.0, 4 * 3600.0))
                spans.append((a, a + length))
            out.append(sorted(spans))
        return out

    @staticmethod
    def _in_cut(spans: list[tuple[float, float]], t: float) -> bool:
        return any(a <= t < b for a, b in spans)

    @staticmethod
    def _cut_between(spans: list[tuple[float, float]], a: float, b: float) -> bool:
        return any(x < b and y > a for x, y in spans)

    @staticmethod
    def _next_cycle(
        after: float, unit: WasherUnit, rng: np.random.Generator, utc_offset_h: float
    ) -> float:
        """Next start: exponential gaps at the household's rate, moved into waking hours."""
        # Always the same draws, so a faulty unit and its twin keep the same laundry.
        gap = float(rng.exponential(7 * DAY_S / unit.cycles_per_week))
        morning = float(rng.uniform(0.0, 3.0))
        t = after + gap
        local_h = (t / 3600.0 + utc_offset_h) % 24.0
        if local_h < 7.0 or local_h > 21.5:
            t += ((7.0 - local_h) % 24.0 + morning) * 3600.0
        return t

    def _birth(self, dev: DeviceInfo, at: float) -> SimMessage:
        body: dict[str, object] = {
            "schema": BIRTH_SCHEMA,
            "device_id": dev.device_id,
            "kind": dev.kind.value,
            "brand": dev.brand,
            "model": dev.model,
            "firmware": dev.firmware,
            "serial": dev.serial,
            "installed_on": dev.installed_on.isoformat(),
            "warranty_until": dev.warranty_until.isoformat(),
            "region": dev.region,
            "postcode": dev.postcode,
            "ts": _iso(at),
        }
        if isinstance(dev.spec, AcModel):
            body["refrigerant"] = dev.spec.refrigerant
        topic = self._topics[dev.device_id][Channel.BIRTH]
        return SimMessage(at, dev.device_id, topic, orjson.dumps(body), True, Channel.BIRTH)

    def _status(self, dev: DeviceInfo, at: float, text: str) -> SimMessage:
        topic = self._topics[dev.device_id][Channel.STATUS]
        return SimMessage(at, dev.device_id, topic, text.encode(), True, Channel.STATUS)


def _catalogue_index(dev: DeviceInfo) -> int:
    """The device's model as an index into its kind's catalogue (the model-level key)."""
    if isinstance(dev.spec, AcModel):
        return AC_MODELS.index(dev.spec)
    return WASHER_MODELS.index(dev.spec)


def _dry_run(seed: int, device: int) -> bool:
    """Whether a clogging drain runs dry (blocked hose) rather than jamming (debris)."""
    return bool(np.random.default_rng([seed, 33, device]).random() < 0.3)


def simulate(config: FleetConfig) -> Iterator[SimMessage]:
    """Every message of the fleet run, in device-time order."""
    return FleetRun(config).messages()


def ground_truth(config: FleetConfig) -> list[FaultTruth]:
    """The injected faults with onset and customer-notice times (runs the physics)."""
    run = FleetRun(config)
    run.run_to_end()
    return run.truth()


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February.

    >>> add_years(date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)
