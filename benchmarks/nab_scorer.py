"""A NAB scorer written from the published description (Lavin & Ahmad 2015).

Per data file: the labelled anomaly windows; the first ``min(floor(0.15 n), 750)`` rows
are a probation period and are not scored. A detection is a row whose anomaly score
reaches the threshold. Each window counts only its earliest detection, worth
``A_TP * sigma(y) / sigma(-1)`` with ``sigma(y) = 2 / (1 + e^{5y}) - 1`` and ``y`` the
relative position in the window (-1 at the left edge, 0 just past the right edge), so an
early detection earns the full ``A_TP``. A window with no detection costs ``A_FN``.
A detection outside every window costs ``A_FP * |sigma(y)|``, where ``y`` is the
distance past the end of the previous window in window lengths (just after a window it
costs almost nothing; with no window before it, the full ``A_FP``). The corpus score is
normalised between the null detector (no detections: ``-A_FN`` per window) and the
perfect one (every window at its left edge: ``A_TP`` per window):
``100 * (S - S_null) / (S_perfect - S_null)``.

>>> rows = FileRows.build(n=2000, windows=[(1000, 1100)])
>>> standard = PROFILES["standard"]
>>> import numpy as np
>>> scores = np.zeros(2000); scores[1000] = 1.0
>>> round(score_corpus([rows], [scores], 0.5, standard), 1)
100.0
>>> round(score_corpus([rows], [np.zeros(2000)], 0.5, standard), 1)
0.0
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


#: The published cost matrices (config/profiles.json of NAB).
PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(y: float) -> float:
    """NAB's weighting: 2/(1+e^{5y}) - 1, and -1 far past a window."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n: int) -> int:
    return min(math.floor(0.15 * n), 750)


@dataclass
class FileRows:
    """Per-row scoring values of one data file, precomputed once."""

    n: int
    probation: int
    window_of_row: NDArray[np.int64]  # window index, or -1 outside every window
    tp_value: FloatArray  # sigma(y)/sigma(-1) inside windows
    fp_value: FloatArray  # |sigma(y)| (0..1) outside windows
    n_windows: int

    @classmethod
    def build(cls, n: int, windows: list[tuple[int, int]]) -> FileRows:
        """``windows`` as inclusive (first row, last row) pairs, in order."""
        window_of_row = np.full(n, -1, dtype=np.int64)
        tp_value = np.zeros(n)
        fp_value = np.zeros(n)
        top = scaled_sigmoid(-1.0)
        for w, (first, last) in enumerate(windows):
            width = last - first + 1
            for i in range(first, last + 1):
                window_of_row[i] = w
                position = -(last - i + 1) / width
                tp_value[i] = scaled_sigmoid(position) / top
        previous: tuple[int, int] | None = None
        w_iter = iter(windows)
        upcoming = next(w_iter, None)
        for i in range(n):
            if upcoming is not None and i >= upcoming[0]:
                if i <= upcoming[1]:
                    continue
                previous = upcoming
                upcoming = next(w_iter, None)
                if upcoming is not None and i >= upcoming[0]:
                    continue
            if previous is None:
                fp_value[i] = 1.0
            else:
                width = previous[1] - previous[0] + 1
                past = abs(previous[1] - i) / max(1, width - 1)
                fp_value[i] = abs(scaled_sigmoid(past))
        return cls(n, probation_rows(n), window_of_row, tp_value, fp_value, len(windows))


def raw_score(rows: FileRows, scores: FloatArray, threshold: float, profile: Profile) -> float:
    """One file's unnormalised score at one threshold."""
    detected = scores >= threshold
    detected[: rows.probation] = False
    outside = detected & (rows.window_of_row < 0)
    total = -profile.fp * float(rows.fp_value[outside].sum())
    for w in range(rows.n_windows):
        hits = detected & (rows.window_of_row == w)
        if hits.any():
            total += profile.tp * float(rows.tp_value[hits].max())
        else:
            total -= profile.fn
    return total


def score_corpus(
    files: list[FileRows], scores: list[FloatArray], threshold: float, profile: Profile
) -> float:
    """Normalised corpus score (null detector 0, perfect detector 100)."""
    windows = sum(f.n_windows for f in files)
    s_null = -profile.fn * windows
    s_perfect = profile.tp * windows
    s = sum(raw_score(f, sc, threshold, profile) for f, sc in zip(files, scores, strict=True))
    return 100.0 * (s - s_null) / (s_perfect - s_null)


def best_threshold(
    files: list[FileRows], scores: list[FloatArray], profile: Profile, candidates: FloatArray
) -> tuple[float, float]:
    """The published procedure: the one threshold that maximises the corpus score."""
    best = (-math.inf, 1.0)
    for threshold in candidates:
        value = score_corpus(files, scores, float(threshold), profile)
        if value > best[0]:
            best = (value, float(threshold))
    return best[1], best[0]


@dataclass
class NabFile:
    name: str
    values: FloatArray
    rows: FileRows


def load_corpus(root: Path) -> list[NabFile]:
    """Every data file with its labelled windows mapped to row numbers."""
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    corpus = []
    for name in sorted(windows):
        lines = (root / "data" / name).read_text().splitlines()[1:]
        stamps = [line.split(",")[0] for line in lines]
        values = np.array([float(line.split(",")[1]) for line in lines])
        index = {stamp[:19]: i for i, stamp in enumerate(stamps)}
        spans = [(index[start[:19]], index[end[:19]]) for start, end in windows[name]]
        corpus.append(NabFile(name, values, FileRows.build(len(values), spans)))
    return corpus
