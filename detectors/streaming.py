"""The univariate streaming scorer the detectors build on: a robust EW residual z-score.

For each value: the residual against an exponentially weighted level, standardised by an
exponentially weighted mean absolute deviation (outliers are clipped before they teach
the level and the spread, so one spike does not blind the scorer, while a lasting shift
is learned within a few ``1/alpha`` steps). Raw scores become surprise in the manner of
Numenta's anomaly likelihood: the short-term mean of recent raw scores against the
long-term distribution of raw scores, as ``-log10`` of its Gaussian tail probability.
Finally only a *new* surprise is reported: a score that does not beat the recent peak
(which decays with ``refractory`` steps half-life) is damped, so an anomaly is one alarm,
not a hundred.

>>> s = RobustResidualScorer()
>>> scores = [s.score_one(10.0 + 0.1 * ((i * 7) % 5)) for i in range(500)]
>>> max(scores[400:]) < 3
True
>>> s.score_one(30.0) > 3
True
"""

from __future__ import annotations

import math

_SQRT2 = math.sqrt(2.0)


class RobustResidualScorer:
    """Streaming anomaly score (``-log10`` tail probability) of a univariate series."""

    __slots__ = (
        "alpha",
        "count",
        "level",
        "long_alpha",
        "peak",
        "peak_decay",
        "raw_mean",
        "raw_var",
        "recent",
        "short",
        "spread",
        "warmup",
    )

    def __init__(
        self,
        alpha: float = 0.05,
        long_alpha: float = 0.005,
        short: int = 3,
        refractory: float = 60.0,
        warmup: int = 30,
    ) -> None:
        self.alpha = alpha
        self.long_alpha = long_alpha
        self.short = short
        self.peak_decay = 0.5 ** (1.0 / refractory)
        self.warmup = warmup
        self.level = 0.0
        self.spread = 0.0
        self.raw_mean = 1.0
        self.raw_var = 1.0
        self.recent: list[float] = []
        self.peak = 0.0
        self.count = 0

    def score_one(self, x: float) -> float:
        """Score ``x`` against what came before, then learn it."""
        self.count += 1
        if self.count == 1:
            self.level = x
            self.spread = abs(x) * 0.01 + 1e-9
            return 0.0
        scale = 1.25 * self.spread + 1e-9
        z = (x - self.level) / scale
        clipped = max(-4.0, min(4.0, z)) * scale
        self.level += self.alpha * clipped
        self.spread += self.alpha * (abs(clipped) - self.spread)
        raw = min(abs(z), 50.0)
        self.recent.append(raw)
        if len(self.recent) > self.short:
            self.recent.pop(0)
        short_mean = sum(self.recent) / len(self.recent)
        sd = math.sqrt(self.raw_var) + 1e-6
        q = (short_mean - self.raw_mean) / sd
        delta = raw - self.raw_mean
        self.raw_mean += self.long_alpha * delta
        self.raw_var = (1 - self.long_alpha) * (self.raw_var + self.long_alpha * delta * delta)
        if self.count <= self.warmup:
            return 0.0
        tail = 0.5 * math.erfc(q / _SQRT2)
        surprise = min(12.0, -math.log10(max(tail, 1e-12)))
        self.peak *= self.peak_decay
        if surprise <= self.peak:
            return 0.0
        self.peak = surprise
        return surprise
