"""Score work orders against the simulator's ground truth.

Definitions (all times are device time):

- A fault *counts* for "before notice" when the customer noticed it within the run
  (``notice_at`` set). It is *caught* when an order naming the same device and fault
  opened at or after the onset and before the notice. Lead time = notice - opened.
- A *sudden* fault's time to detect = first correct order - the first moment the
  appliance operated at or after the onset (a fan that dies at night shows when the AC
  next runs; a heater when the washer next heats); the time from the onset itself is
  kept too (``detect_from_onset_minutes``). A sudden fault whose appliance never
  operated after the onset within the run could not show in telemetry: it is counted
  apart (``sudden_never_operated``) and left out of the within-30-minutes share.
- Diagnosis top-1: for every faulty device whose first order after the onset came at
  all, whether that order named the true fault.
- An order is *correct* when its device has that fault and it opened at or after the
  onset; precision = correct orders / all orders. Orders on devices without any fault
  are false orders, reported per 1,000 healthy device-days.
- Calibration: every order is a prediction with its ``confidence``, right when it is
  correct as above; the reliability table and expected calibration error are taken
  over all orders and per appliance kind (see :mod:`housecall.evaluation.calibration`).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from edge.contract import Fault
from housecall.evaluation.calibration import Calibration, Prediction, calibrate

#: A sudden fault counts as detected in time within this many minutes of operating.
SUDDEN_TARGET_MINUTES = 30.0


@dataclass(frozen=True, slots=True)
class OpenedOrder:
    """One work order as scoring sees it (read back from the work-order service)."""

    device_id: str
    fault: Fault
    #: Device time the order opened (for a self-fix fault: when its grace period ran out).
    opened_at: datetime
    #: The latest finding's confidence (the service updates the order with each one).
    confidence: float
    #: Device time the order was verified fixed, if it was.
    closed_at: datetime | None = None
    predicted_failure_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Truth:
    """The parts of the simulator's ground truth that scoring needs."""

    device_id: str
    fault: Fault
    onset_at: datetime
    notice_at: datetime | None
    sudden: bool
    #: Sudden faults: when the appliance first operated at or after the onset.
    operating_at: datetime | None = None
    #: False for a sudden fault whose appliance never operated again within the run.
    operated: bool = True
    #: The simulator's detail, e.g. which probe and how ("stuck:room_temp_c").
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SlowSudden:
    """A sudden fault that could show but got no correct order within 30 min of operating.

    Listed one by one (as the misses of gradual faults are) so each can be traced: the
    share alone does not say which probe or which unit was slow.
    """

    device_id: str
    fault: Fault
    detail: str | None
    onset_at: datetime
    #: First operation at or after the onset (the clock's start).
    operating_at: datetime
    #: The first correct order, ``None`` when none opened within the run.
    detected_at: datetime | None


@dataclass
class FaultRow:
    fault: str
    injected: int = 0
    noticed: int = 0
    caught: int = 0
    leads_days: list[float] = field(default_factory=list)
    detect_minutes: list[float] = field(default_factory=list)
    detect_from_onset_minutes: list[float] = field(default_factory=list)
    diagnosed: int = 0
    top1: int = 0
    missed: int = 0

    @property
    def share_caught(self) -> float | None:
        return self.caught / self.noticed if self.noticed else None

    @property
    def median_lead(self) -> float | None:
        return statistics.median(self.leads_days) if self.leads_days else None

    @property
    def p10_lead(self) -> float | None:
        if not self.leads_days:
            return None
        ordered = sorted(self.leads_days)
        return ordered[int(0.1 * (len(ordered) - 1))]


@dataclass
class Report:
    rows: dict[str, FaultRow]
    gradual: FaultRow
    sudden: FaultRow
    overall: FaultRow
    orders: int
    correct_orders: int
    false_orders_healthy: int
    healthy_device_days: float
    sudden_within_30min: int
    sudden_detected: int
    #: Sudden faults that struck an appliance which then never operated within the run.
    sudden_never_operated: int = 0
    #: Sudden faults that could show and were not detected within 30 minutes of operating.
    slow_sudden: list[SlowSudden] = field(default_factory=list)
    #: Confidence against correctness over every order (see the module docstring).
    calibration: Calibration = field(default_factory=lambda: calibrate([]))
    #: The same per appliance kind ("ac", "washer"); empty when scoring was given no kinds.
    calibration_by_kind: dict[str, Calibration] = field(default_factory=dict)

    @property
    def ece(self) -> float | None:
        """Expected calibration error over every order (``None`` without orders)."""
        return self.calibration.ece

    @property
    def ece_by_kind(self) -> dict[str, float | None]:
        return {kind: c.ece for kind, c in self.calibration_by_kind.items()}

    @property
    def sudden_timeable(self) -> int:
        """Sudden faults that could show: the within-30-minutes share's denominator."""
        return self.sudden.injected - self.sudden_never_operated

    @property
    def precision(self) -> float | None:
        return self.correct_orders / self.orders if self.orders else None

    @property
    def false_per_1000_device_days(self) -> float:
        if self.healthy_device_days <= 0:
            return 0.0
        return 1000.0 * self.false_orders_healthy / self.healthy_device_days


def score(
    truths: list[Truth],
    orders: list[OpenedOrder],
    device_ids: list[str],
    days: float,
    kinds: Mapping[str, str] | None = None,
) -> Report:
    """Compare orders with truth (see the module docstring for the definitions).

    ``kinds`` maps device ids to their appliance kind, for calibration per kind; an
    order on a device it does not name counts in the overall calibration only.
    """
    by_device: dict[str, list[Truth]] = defaultdict(list)
    for truth in truths:
        by_device[truth.device_id].append(truth)
    orders_by_device: dict[str, list[OpenedOrder]] = defaultdict(list)
    for order in sorted(orders, key=lambda o: o.opened_at):
        orders_by_device[order.device_id].append(order)
    rows: dict[str, FaultRow] = {}
    gradual = FaultRow("all gradual")
    sudden = FaultRow("all sudden")
    overall = FaultRow("overall")
    within_30 = 0
    sudden_detected = 0
    never_operated = 0
    slow: list[SlowSudden] = []
    for truth in truths:
        row = rows.setdefault(truth.fault.value, FaultRow(truth.fault.value))
        group = sudden if truth.sudden else gradual
        device_orders = [
            o for o in orders_by_device[truth.device_id] if o.opened_at >= truth.onset_at
        ]
        correct = [o for o in device_orders if o.fault is truth.fault]
        for target in (row, group, overall):
            target.injected += 1
        if device_orders:
            hit = device_orders[0].fault is truth.fault
            for target in (row, group, overall):
                target.diagnosed += 1
                target.top1 += int(hit)
        if truth.sudden and not truth.operated:
            never_operated += 1
        elif truth.sudden:
            start = truth.operating_at or truth.onset_at
            detected_at = correct[0].opened_at if correct else None
            minutes = (
                math.inf
                if detected_at is None
                else max(0.0, (detected_at - start).total_seconds() / 60.0)
            )
            if minutes > SUDDEN_TARGET_MINUTES:
                slow.append(
                    SlowSudden(
                        truth.device_id,
                        truth.fault,
                        truth.detail,
                        truth.onset_at,
                        start,
                        detected_at,
                    )
                )
            if detected_at is not None:
                from_onset = (detected_at - truth.onset_at).total_seconds() / 60.0
                sudden_detected += 1
                within_30 += int(minutes <= SUDDEN_TARGET_MINUTES)
                for target in (row, group, overall):
                    target.detect_minutes.append(minutes)
                    target.detect_from_onset_minutes.append(from_onset)
        if truth.notice_at is None:
            continue
        for target in (row, group, overall):
            target.noticed += 1
        early = [o for o in correct if o.opened_at < truth.notice_at]
        if early:
            lead = (truth.notice_at - early[0].opened_at).total_seconds() / 86400.0
            for target in (row, group, overall):
                target.caught += 1
                target.leads_days.append(lead)
        else:
            for target in (row, group, overall):
                target.missed += 1
    correct_orders = 0
    false_healthy = 0
    predictions: list[Prediction] = []
    by_kind: dict[str, list[Prediction]] = defaultdict(list)
    for order in orders:
        truths_here = by_device.get(order.device_id, [])
        right = is_correct(order, truths_here)
        if right:
            correct_orders += 1
        elif not truths_here:
            false_healthy += 1
        prediction = Prediction(order.confidence, right)
        predictions.append(prediction)
        kind = (kinds or {}).get(order.device_id)
        if kind is not None:
            by_kind[kind].append(prediction)
    healthy = sum(1 for d in device_ids if d not in by_device)
    return Report(
        rows=dict(sorted(rows.items())),
        gradual=gradual,
        sudden=sudden,
        overall=overall,
        orders=len(orders),
        correct_orders=correct_orders,
        false_orders_healthy=false_healthy,
        healthy_device_days=healthy * days,
        sudden_within_30min=within_30,
        sudden_detected=sudden_detected,
        sudden_never_operated=never_operated,
        slow_sudden=slow,
        calibration=calibrate(predictions),
        calibration_by_kind={kind: calibrate(by_kind[kind]) for kind in sorted(by_kind)},
    )


def is_correct(order: OpenedOrder, truths: Sequence[Truth]) -> bool:
    """Whether ``order`` names a fault its device has, opened at or after that fault's onset.

    ``truths``: the device's faults (none for a healthy unit: every order there is wrong).
    Precision counts these orders; calibration scores each confidence against it.
    """
    return any(
        t.device_id == order.device_id and t.fault is order.fault and order.opened_at >= t.onset_at
        for t in truths
    )
