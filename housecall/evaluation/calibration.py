"""Calibration of the work orders' confidence: does 0.85 mean right 85% of the time?

A technician triaging orders (and a provider pricing a visit) reads an order's
``confidence`` as a probability that the named fault is the unit's fault. That reading
only holds if the figure is *calibrated*, so the evaluation measures it instead of
trusting it. Every opened order is one prediction: its confidence, and whether it was
correct in the sense precision already uses (the unit has that fault and the order
opened at or after its onset; an order on a healthy unit is wrong).

Predictions are grouped into equal-width confidence bins. For each bin the reliability
table gives the count, the mean confidence and the accuracy (the share correct); the
expected calibration error (ECE) is the count-weighted mean of ``|accuracy - mean
confidence|`` over the bins, so a perfectly calibrated set scores 0 and a set that is
always wrong at confidence 1 scores 1.

Few predictions spread over ten bins leave one or two per bin, whose accuracy is 0 or 1
by chance and inflates the ECE; :func:`bins_for` therefore uses fewer (wider) bins when
there are few predictions, about :data:`MIN_PER_BIN` per bin on average.

Pure: no I/O and no knowledge of orders, so it is tested on hand-made inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: The most bins a reliability table uses (the usual ten, 0.1 wide).
MAX_BINS = 10
#: Fewer bins when there are fewer than this many predictions per bin on average.
MIN_PER_BIN = 5
#: The target the issue sets for held-out fleets.
ECE_TARGET = 0.05


@dataclass(frozen=True, slots=True)
class Prediction:
    """One opened order as calibration sees it."""

    confidence: float
    correct: bool


@dataclass(frozen=True, slots=True)
class Bin:
    """One row of the reliability table: predictions with ``low <= confidence < high``.

    The last bin also holds ``confidence == 1``.
    """

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float

    @property
    def gap(self) -> float:
        """``accuracy - mean_confidence``: negative when the orders are over-confident."""
        return self.accuracy - self.mean_confidence


@dataclass(frozen=True, slots=True)
class Calibration:
    """The reliability table (non-empty bins only) and the ECE of a set of predictions."""

    #: Number of equal-width bins the range 0..1 was cut into (empty ones are not listed).
    n_bins: int
    bins: tuple[Bin, ...]
    count: int
    correct: int
    #: Mean confidence over all predictions (``None`` without any).
    mean_confidence: float | None
    #: Expected calibration error (``None`` without any prediction).
    ece: float | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.count if self.count else None


def bins_for(count: int, max_bins: int = MAX_BINS) -> int:
    """How many equal-width bins to use for ``count`` predictions.

    >>> bins_for(0), bins_for(4), bins_for(23), bins_for(50), bins_for(10_000)
    (1, 1, 4, 10, 10)
    """
    return max(1, min(max_bins, count // MIN_PER_BIN))


def calibrate(predictions: Iterable[Prediction], n_bins: int | None = None) -> Calibration:
    """The reliability table and ECE of ``predictions`` (``n_bins`` default: :func:`bins_for`).

    Perfectly calibrated: at 0.75 three of four right, at 0.25 one of four:

    >>> ps = [Prediction(0.75, c) for c in (True, True, True, False)]
    >>> ps += [Prediction(0.25, c) for c in (True, False, False, False)]
    >>> calibrate(ps, n_bins=4).ece
    0.0

    Always wrong at confidence 1:

    >>> calibrate([Prediction(1.0, False)] * 3).ece
    1.0

    Mixed, by hand with 2 bins: [0, 0.5) holds 0.2 (wrong) and 0.4 (right): mean 0.3,
    accuracy 0.5, gap 0.2; [0.5, 1] holds 0.9, 0.9 (right) and 0.6 (wrong): mean 0.8,
    accuracy 2/3, gap 0.1333; ECE = (2 * 0.2 + 3 * 0.1333) / 5 = 0.16.

    >>> mixed = [Prediction(0.2, False), Prediction(0.4, True), Prediction(0.9, True),
    ...          Prediction(0.9, True), Prediction(0.6, False)]
    >>> round(calibrate(mixed, n_bins=2).ece, 6)
    0.16
    >>> calibrate([]).ece is None
    True
    """
    items = list(predictions)
    for item in items:
        if not 0.0 <= item.confidence <= 1.0:  # NaN fails this too
            raise ValueError(f"confidence {item.confidence!r} outside 0..1")
    bins = bins_for(len(items)) if n_bins is None else n_bins
    if bins < 1:
        raise ValueError(f"n_bins must be at least 1, not {bins}")
    grouped: list[list[Prediction]] = [[] for _ in range(bins)]
    for item in items:
        grouped[min(int(item.confidence * bins), bins - 1)].append(item)
    rows = tuple(_bin(i / bins, (i + 1) / bins, group) for i, group in enumerate(grouped) if group)
    total = len(items)
    ece = sum(row.count * abs(row.gap) for row in rows) / total if total else None
    return Calibration(
        n_bins=bins,
        bins=rows,
        count=total,
        correct=sum(item.correct for item in items),
        mean_confidence=math.fsum(item.confidence for item in items) / total if total else None,
        ece=ece,
    )


def _bin(low: float, high: float, group: Sequence[Prediction]) -> Bin:
    return Bin(
        low=low,
        high=high,
        count=len(group),
        mean_confidence=math.fsum(item.confidence for item in group) / len(group),
        accuracy=sum(item.correct for item in group) / len(group),
    )
