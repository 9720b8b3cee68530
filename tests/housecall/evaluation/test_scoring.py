"""Scoring orders against ground truth, on hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.api import Finding, Recovery
from edge.contract import Fault, Kind, Severity
from housecall.evaluation.orders import OrderBook
from housecall.evaluation.scoring import Truth, score

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def finding(device: str, fault: Fault, at: datetime) -> Finding:
    return Finding(device, Kind.AC, fault, 0.9, Severity.HIGH, at)


def test_a_self_fix_fault_gets_its_grace_period_before_an_order() -> None:
    book = OrderBook()
    book.handle([finding("ac-1", Fault.DIRTY_FILTER, day(1))])
    book.tick("ac-1", day(3.9))
    assert book.orders == []
    book.tick("ac-1", day(4.1))
    assert [(o.fault, o.opened_at) for o in book.orders] == [(Fault.DIRTY_FILTER, day(4.1))]
    book.handle([finding("ac-2", Fault.DIRTY_FILTER, day(1))])
    book.handle([Recovery("ac-2", Fault.DIRTY_FILTER, day(2), day(1.5))])  # the customer cleaned it
    book.tick("ac-2", day(10))
    assert len(book.orders) == 1


def test_one_open_order_per_device_and_fault_and_a_recovery_closes_it() -> None:
    book = OrderBook()
    fouling = Fault.CONDENSER_FOULING
    book.handle([finding("ac-1", fouling, day(1)), finding("ac-1", fouling, day(2))])
    assert len(book.orders) == 1
    book.handle([Recovery("ac-1", fouling, day(3), day(2.5))])
    assert book.orders[0].closed_at == day(3)
    book.handle([finding("ac-1", fouling, day(4))])
    assert len(book.orders) == 2


def test_scores_lead_time_top1_precision_and_false_orders() -> None:
    truths = [
        Truth("ac-1", Fault.REFRIGERANT_LEAK, day(2), day(20), sudden=False),
        Truth("ac-2", Fault.CONDENSER_FOULING, day(2), day(10), sudden=False),
        Truth(
            "ac-3", Fault.OUTDOOR_FAN_FAILURE, day(5), day(5.5), sudden=True, operating_at=day(5.25)
        ),
        Truth("ac-4", Fault.DIRTY_FILTER, day(3), None, sudden=False),
    ]
    book = OrderBook()
    book.handle(
        [
            finding("ac-1", Fault.REFRIGERANT_LEAK, day(10)),  # 10 days before notice
            finding("ac-2", Fault.SENSOR_FAULT, day(4)),  # misdiagnosed first
            finding("ac-2", Fault.CONDENSER_FOULING, day(11)),  # right, but after notice
            finding("ac-3", Fault.OUTDOOR_FAN_FAILURE, day(5.25) + timedelta(minutes=20)),
            finding("ac-9", Fault.SENSOR_FAULT, day(7)),  # healthy unit
        ]
    )
    report = score(truths, book.orders, [f"ac-{i}" for i in range(1, 11)], days=30)
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
