"""Why a gradual fault the customer noticed got no correct work order before the notice.

Scoring counts the misses; a brand deciding whether to trust the detectors, and an
engineer deciding what to improve, need to know *why* each one was missed. The run
already holds the answer: the windows the detector judged for the device (AC steady
windows, washer cycles) between the onset and the notice, and the orders the device got.
Four causes, checked in this order:

- ``not judged``: no window of the device was judged between onset and notice. The
  appliance hardly ran steadily (an AC used an hour a week, a washer twice a week), or its
  cohort or its own offset were still being learned: no detector can see such a fault.
- ``another fault first``: the first order after the onset, before the notice, named a
  different fault.
- ``order after notice``: the right order came, but only at or after the notice (often the
  appliance's own error code, when the evidence before it stayed below the bar).
- ``evidence too weak``: windows were judged, yet no order came at all.

>>> from datetime import UTC, datetime, timedelta
>>> from edge.contract import Fault
>>> day = datetime(2026, 7, 1, tzinfo=UTC)
>>> judged = JudgedWindows()
>>> truth = Truth("wm-1", Fault.SUSPENSION_WEAR, day, day + timedelta(days=20), False)
>>> [m.cause for m in explain_misses([truth], [], judged, {"wm-1": "BW-6010"})]
['not judged']
>>> judged.note("wm-1", (day + timedelta(days=3)).timestamp())
>>> [m.cause for m in explain_misses([truth], [], judged, {"wm-1": "BW-6010"})]
['evidence too weak']
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from edge.contract import Fault
from housecall.evaluation.scoring import OpenedOrder, Truth

NOT_JUDGED = "not judged"
ANOTHER_FAULT_FIRST = "another fault first"
ORDER_AFTER_NOTICE = "order after notice"
EVIDENCE_TOO_WEAK = "evidence too weak"
#: Every cause, in the order they are checked (and printed).
CAUSES = (NOT_JUDGED, ANOTHER_FAULT_FIRST, ORDER_AFTER_NOTICE, EVIDENCE_TOO_WEAK)


class JudgedWindows:
    """Device time of every window the detector judged, per device (event time order)."""

    def __init__(self) -> None:
        self.times: dict[str, array[float]] = {}

    def note(self, device_id: str, ts: float) -> None:
        self.times.setdefault(device_id, array("d")).append(ts)

    def between(self, device_id: str, start: datetime, end: datetime) -> int:
        """Windows judged at or after ``start`` and before ``end``."""
        times = self.times.get(device_id)
        if not times:
            return 0
        return bisect.bisect_left(times, end.timestamp()) - bisect.bisect_left(
            times, start.timestamp()
        )


@dataclass(frozen=True, slots=True)
class Miss:
    """One gradual fault the customer noticed without a correct order before it."""

    device_id: str
    model: str
    fault: Fault
    onset_at: datetime
    notice_at: datetime
    #: Windows (AC) or cycles (washer) judged between the onset and the notice.
    judged: int
    #: The device's first order after the onset, whatever fault it named.
    first_order: OpenedOrder | None
    #: The first order after the onset that named this fault (after the notice, if any).
    correct_order: OpenedOrder | None
    cause: str


def explain_misses(
    truths: Iterable[Truth],
    orders: Iterable[OpenedOrder],
    judged: JudgedWindows,
    models: Mapping[str, str],
) -> list[Miss]:
    """Every noticed gradual fault without a correct order before the notice, with its cause."""
    by_device: dict[str, list[OpenedOrder]] = {}
    for order in sorted(orders, key=lambda o: o.opened_at):
        by_device.setdefault(order.device_id, []).append(order)
    misses = []
    for truth in truths:
        if truth.sudden or truth.notice_at is None:
            continue
        after = [o for o in by_device.get(truth.device_id, []) if o.opened_at >= truth.onset_at]
        correct = [o for o in after if o.fault is truth.fault]
        if correct and correct[0].opened_at < truth.notice_at:
            continue
        windows = judged.between(truth.device_id, truth.onset_at, truth.notice_at)
        first = after[0] if after else None
        if windows == 0:
            cause = NOT_JUDGED
        elif (
            first is not None
            and first.fault is not truth.fault
            and first.opened_at < truth.notice_at
        ):
            cause = ANOTHER_FAULT_FIRST
        elif correct:
            cause = ORDER_AFTER_NOTICE
        else:
            cause = EVIDENCE_TOO_WEAK
        misses.append(
            Miss(
                device_id=truth.device_id,
                model=models.get(truth.device_id, "?"),
                fault=truth.fault,
                onset_at=truth.onset_at,
                notice_at=truth.notice_at,
                judged=windows,
                first_order=first,
                correct_order=correct[0] if correct else None,
                cause=cause,
            )
        )
    return misses
