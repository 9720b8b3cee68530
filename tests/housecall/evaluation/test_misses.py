"""Why a noticed gradual fault was missed, on hand-made cases (one per cause)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.contract import Fault
from housecall.evaluation.misses import (
    ANOTHER_FAULT_FIRST,
    EVIDENCE_TOO_WEAK,
    NOT_JUDGED,
    ORDER_AFTER_NOTICE,
    JudgedWindows,
    explain_misses,
)
from housecall.evaluation.scoring import OpenedOrder, Truth, score

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_every_miss_scoring_counts_gets_one_cause_and_nothing_else_is_listed() -> None:
    truths = [
        Truth("ac-1", Fault.REFRIGERANT_LEAK, day(2), day(20), sudden=False),  # caught
        Truth("ac-2", Fault.CONDENSER_FOULING, day(2), day(10), sudden=False),
        Truth("ac-3", Fault.COMPRESSOR_WEAR, day(2), day(12), sudden=False),
        Truth("wm-4", Fault.SUSPENSION_WEAR, day(3), day(25), sudden=False),
        Truth("wm-5", Fault.BEARING_WEAR, day(3), day(25), sudden=False),
        Truth("wm-6", Fault.HEATER_FAILURE, day(3), day(4), sudden=True),  # sudden: scored apart
        Truth("wm-7", Fault.DRAIN_PUMP_CLOG, day(3), None, sudden=False),  # never noticed
    ]
    orders = [
        OpenedOrder("ac-1", Fault.REFRIGERANT_LEAK, day(9), 0.9),
        OpenedOrder("ac-2", Fault.SENSOR_FAULT, day(5), 0.6),
        OpenedOrder("ac-2", Fault.CONDENSER_FOULING, day(11), 0.9),
        OpenedOrder("ac-3", Fault.COMPRESSOR_WEAR, day(12), 0.9),  # at the notice: too late
        OpenedOrder("wm-4", Fault.SUSPENSION_WEAR, day(1), 0.9),  # before the onset: no credit
    ]
    judged = JudgedWindows()
    for device in ("ac-1", "ac-2", "ac-3", "wm-5"):
        for n in range(30):
            judged.note(device, day(n).timestamp())
    judged.note("wm-4", day(2.5).timestamp())  # judged before the onset only
    judged.note("wm-4", day(25).timestamp())  # and at the notice (not before it)

    misses = explain_misses(truths, orders, judged, {"ac-2": "KS-50V"})

    assert [(m.device_id, m.cause) for m in misses] == [
        ("ac-2", ANOTHER_FAULT_FIRST),
        ("ac-3", ORDER_AFTER_NOTICE),
        ("wm-4", NOT_JUDGED),
        ("wm-5", EVIDENCE_TOO_WEAK),
    ]
    ac2, ac3, wm4, wm5 = misses
    assert ac2.model == "KS-50V"
    assert wm5.model == "?"
    assert ac2.judged == 8  # days 2..9, onset included, notice excluded
    assert ac2.first_order is not None
    assert ac2.first_order.fault is Fault.SENSOR_FAULT
    assert ac2.correct_order is not None
    assert ac2.correct_order.opened_at == day(11)
    assert ac3.correct_order is not None
    assert wm4.judged == 0
    assert wm4.first_order is None
    assert wm5.first_order is None
    assert wm5.correct_order is None
    report = score(truths, orders, ["ac-1", "ac-2", "ac-3", "wm-4", "wm-5", "wm-6", "wm-7"], 30)
    assert report.gradual.missed == len(misses)
