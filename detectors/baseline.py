"""Cohort baselines: what a healthy unit of one model shows under given conditions.

One :class:`CohortBaseline` per (kind, model, regime), where the regime is the AC mode
(cool/heat) or the washer program. Each derived signal gets a river
``BayesianLinearRegression`` over a handful of condition features (outdoor
temperature, compressor speed, load...): exact online least squares, so the fit does not
depend on learning rates, and cheap to predict (about 1 µs). HalfSpaceTrees and friends
are far too heavy to keep per device; one regression per cohort and signal is not.
Signals listed in ``external`` are controller responses (the compressor speed itself) and
are predicted from the external conditions only. Signals listed in ``level_only`` are
physically the same under every condition (a washer's fill time per litre: its mains
pressure alone sets it) and are modelled by their level alone.

Learning is batched per hour of *event* time and applied in a fixed order (time, then
device), so the numbers do not depend on how a broker interleaves devices. Callers only
offer samples they judge healthy (a device under suspicion does not teach the cohort).

>>> b = CohortBaseline(floors=(0.1, 0.1))
>>> for i in range(50):
...     b.offer(float(i), "d1", {"c": 1.0, "x": i / 10}, {}, [1.0 + i / 10, float("nan")])
>>> b.apply_pending()
>>> round(b.predict({"c": 1.0, "x": 2.0}, {})[0], 2), b.samples[1]
(3.0, 0)
"""

from __future__ import annotations

import math

from river import linear_model

Conditions = dict[str, float]
NAN = float("nan")
#: The features of a ``level_only`` signal: the constant alone.
LEVEL: Conditions = {"c": 1.0}


class CohortBaseline:
    """Per-signal regressions of healthy behaviour, with the fleet's residual spread."""

    __slots__ = (
        "external",
        "floors",
        "high",
        "level_only",
        "low",
        "models",
        "pending",
        "samples",
        "spread",
        "units",
    )

    #: Units are counted up to this many: enough to tell a cohort from a handful of units.
    UNITS_COUNTED = 32

    def __init__(
        self,
        floors: tuple[float, ...],
        external: frozenset[int] = frozenset(),
        level_only: frozenset[int] = frozenset(),
    ):
        self.models = [linear_model.BayesianLinearRegression(alpha=0.1, beta=1.0) for _ in floors]
        self.samples = [0] * len(floors)
        self.floors = floors
        self.external = external
        #: Signals no condition moves on a healthy unit: learned as a level, not regressed.
        #: Every feature a regression is offered lets it credit that condition with the
        #: offsets of the units that happen to see it. Units sit apart by far more than a
        #: fault moves them early, and the inlet water's temperature differs by region and
        #: warms through the summer: regressed on the cycle's conditions, the cohorts'
        #: expected fill per litre of healthy washers drifts by several percent over the
        #: weeks after their warm-up and swings with the program, while the units'
        #: readings stay flat and their offsets, held by ``offset_guard_z``, cannot follow:
        #: false inlet-valve orders.
        self.level_only = level_only
        #: Fleet-wide robust spread (EW mean absolute residual, per-unit offsets removed).
        self.spread = [3.0 * f for f in floors]
        self.pending: list[tuple[float, str, Conditions, Conditions, list[float]]] = []
        #: Range of every condition feature learned so far: outside it we would extrapolate.
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        #: The units that taught it (the first ``UNITS_COUNTED``): a cohort learned from one
        #: or two units expects what those units do, offsets and all, and judges the next
        #: unit by how it differs from them (see ``KindTuning.cohort_units``).
        self.units: set[str] = set()

    def covers(self, x: Conditions) -> bool:
        """Whether ``x`` lies within (a little beyond) the conditions the cohort has seen.

        A heat wave hotter than any day so far asks the regression to extrapolate; its
        residuals say more about the model than about the unit, so they are not judged.
        """
        for name, value in x.items():
            low = self.low.get(name)
            if low is None:
                return False
            high = self.high[name]
            margin = 0.1 * (high - low) + 0.05
            if not low - margin <= value <= high + margin:
                return False
        return True

    def predict(self, x: Conditions, x_external: Conditions) -> list[float]:
        """Expected value of every signal; NaN for a signal not learned yet."""
        out = []
        for index, model in enumerate(self.models):
            if self.samples[index] == 0:
                out.append(NAN)
            else:
                features = self._features(index, x, x_external)
                out.append(float(model.predict_one(features)))  # type: ignore[no-untyped-call]
        return out

    def offer(
        self, ts: float, device_id: str, x: Conditions, x_external: Conditions, y: list[float]
    ) -> None:
        """Queue a healthy sample; it is learned at the next :meth:`apply_pending`."""
        self.pending.append((ts, device_id, x, x_external, y))

    def apply_pending(self) -> None:
        """Learn the queued samples in (time, device) order."""
        if not self.pending:
            return
        self.pending.sort(key=lambda item: (item[0], item[1]))
        for _, device_id, x, x_external, y in self.pending:
            if len(self.units) < self.UNITS_COUNTED:
                self.units.add(device_id)
            for name, value in x.items():
                if value < self.low.get(name, math.inf):
                    self.low[name] = value
                if value > self.high.get(name, -math.inf):
                    self.high[name] = value
            for index, value in enumerate(y):
                if not math.isnan(value):
                    features = self._features(index, x, x_external)
                    self.models[index].learn_one(features, value)  # type: ignore[no-untyped-call]
                    self.samples[index] += 1
        self.pending.clear()

    def _features(self, index: int, x: Conditions, x_external: Conditions) -> Conditions:
        """The conditions signal ``index`` is predicted from."""
        if index in self.level_only:
            return LEVEL
        return x_external if index in self.external else x

    def note_residual(self, index: int, residual: float) -> None:
        """Track the typical size of a unit's residual (its own offset removed)."""
        size = min(abs(residual), 6.0 * self.spread[index])
        self.spread[index] += 0.005 * (size - self.spread[index])

    def scale(self, index: int) -> float:
        """The residual scale used to standardise a signal (never below its floor)."""
        return max(1.25 * self.spread[index], self.floors[index])


class UnitSpread:
    """How far units of one kind sit from their cohorts: the spread of their learned offsets.

    Every unit learns its own offset from the cohort over its warm-up; the typical size of
    those offsets (mean absolute offset, one per unit and signal, noted when the unit's
    warm-up of that signal ends) says how far a unit may sit from its cohort without being
    faulty. That is what a unit still in its warm-up is judged against: its offset is
    not known yet, only how offsets spread (see ``HousecallDetector.score_window``). A
    faulty unit's offset counts too; it can only widen the yardstick, never narrow it.

    >>> spread = UnitSpread(n_signals=2, min_units=3)
    >>> spread.scale(0) != spread.scale(0)  # NaN: not enough units have warmed up
    True
    >>> for offset in (0.4, -0.2, 0.3):
    ...     spread.note(0, offset)
    >>> round(spread.scale(0), 3), spread.units[1]
    (0.375, 0)
    """

    __slots__ = ("mean_abs", "min_units", "units")

    #: After this many units the mean becomes an exponentially weighted one (a fleet changes).
    RUNNING_UNITS = 200

    def __init__(self, n_signals: int, min_units: int) -> None:
        self.mean_abs = [0.0] * n_signals
        self.units = [0] * n_signals
        self.min_units = min_units

    def note(self, index: int, offset: float) -> None:
        """One unit's warm-up of signal ``index`` ended with this learned offset."""
        self.units[index] += 1
        weight = 1.0 / min(self.units[index], self.RUNNING_UNITS)
        self.mean_abs[index] += weight * (abs(offset) - self.mean_abs[index])

    def scale(self, index: int) -> float:
        """Robust between-unit spread (1.25 x mean absolute offset); NaN until known."""
        if self.units[index] < self.min_units:
            return NAN
        return 1.25 * self.mean_abs[index]
