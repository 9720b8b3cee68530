"""Scoring orders against ground truth, on hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from edge.contract import Fault
from housecall.evaluation.scoring import OpenedOrder, Truth, score

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def order(device: str, fault: Fault, at: datetime) -> OpenedOrder:
    return OpenedOrder(device, fault, at, 0.9)


def test_scores_lead_time_top1_precision_and_false_orders() -> None:
    truths = [
        Truth("ac-1", Fault.REFRIGERANT_LEAK, day(2), day(20), sudden=False),
        Truth("ac-2", Fault.CONDENSER_FOULING, day(2), day(10), sudden=False),
        Truth(
            "ac-3", Fault.OUTDOOR_FAN_FAILURE, day(5), day(5.5), sudden=True, operating_at=day(5.25)
        ),
        Truth("ac-4", Fault.DIRTY_FILTER, day(3), None, sudden=False),
    ]
    orders = [
        order("ac-1", Fault.REFRIGERANT_LEAK, day(10)),  # 10 days before notice
        order("ac-2", Fault.SENSOR_FAULT, day(4)),  # misdiagnosed first
        order("ac-2", Fault.CONDENSER_FOULING, day(11)),  # right, but after notice
        order("ac-3", Fault.OUTDOOR_FAN_FAILURE, day(5.25) + timedelta(minutes=20)),
        order("ac-9", Fault.SENSOR_FAULT, day(7)),  # healthy unit
    ]
    report = score(truths, orders, [f"ac-{i}" for i in range(1, 11)], days=30)
    assert report.gradual.noticed == 2
    assert report.gradual.caught == 1
    assert report.gradual.leads_days == [pytest.approx(10.0)]
    assert report.rows["condenser_fouling"].top1 == 0
    assert report.overall.diagnosed == 3
    assert report.overall.top1 == 2
    assert report.sudden.detect_minutes == [pytest.approx(20.0)]
    assert report.sudden.detect_from_onset_minutes == [pytest.approx(6 * 60 + 20.0)]
    assert report.sudden_within_30min == 1
    assert report.orders == 5
    assert report.correct_orders == 3  # ac-1, ac-2's fouling, ac-3
    assert report.precision == pytest.approx(3 / 5)
    assert report.false_orders_healthy == 1
    assert report.false_per_1000_device_days == pytest.approx(1000 / (6 * 30))


def test_a_sudden_fault_that_could_not_show_is_counted_apart() -> None:
    """One fan failed on a unit that ran again (caught in 10 min), one on a unit that never did."""
    truths = [
        Truth("ac-1", Fault.OUTDOOR_FAN_FAILURE, day(5), None, sudden=True, operating_at=day(5)),
        Truth("ac-2", Fault.OUTDOOR_FAN_FAILURE, day(5), None, sudden=True, operated=False),
    ]
    orders = [order("ac-1", Fault.OUTDOOR_FAN_FAILURE, day(5) + timedelta(minutes=10))]
    report = score(truths, orders, ["ac-1", "ac-2", "ac-3"], days=10)
    assert report.sudden.injected == 2
    assert report.sudden_never_operated == 1
    assert report.sudden_timeable == 1
    assert report.sudden_within_30min == 1


def test_every_sudden_fault_slower_than_the_target_is_listed_with_its_detail() -> None:
    """In time (10 min), late (45 min), never detected, and one that could not show."""
    on = day(5)
    truths = [
        Truth("ac-1", Fault.OUTDOOR_FAN_FAILURE, on, None, sudden=True, operating_at=on),
        Truth(
            "ac-2",
            Fault.SENSOR_FAULT,
            on,
            None,
            sudden=True,
            operating_at=on,
            detail="stuck:room_temp_c",
        ),
        Truth("wm-3", Fault.HEATER_FAILURE, on, None, sudden=True, operating_at=day(6)),
        Truth("ac-4", Fault.OUTDOOR_FAN_FAILURE, on, None, sudden=True, operated=False),
    ]
    orders = [
        order("ac-1", Fault.OUTDOOR_FAN_FAILURE, on + timedelta(minutes=10)),
        order("ac-2", Fault.SENSOR_FAULT, on + timedelta(minutes=45)),
        order("wm-3", Fault.DRAIN_PUMP_CLOG, day(6.1)),  # the wrong fault: not a detection
    ]
    report = score(truths, orders, ["ac-1", "ac-2", "wm-3", "ac-4"], days=10)
    assert report.sudden_within_30min == 1
    assert report.sudden_timeable == 3
    slow = {s.device_id: s for s in report.slow_sudden}
    assert sorted(slow) == ["ac-2", "wm-3"]
    assert slow["ac-2"].detected_at == on + timedelta(minutes=45)
    assert slow["ac-2"].detail == "stuck:room_temp_c"
    assert slow["wm-3"].detected_at is None
    assert slow["wm-3"].operating_at == day(6)
