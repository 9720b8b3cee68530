"""De-duplication by ``(device_id, seq)`` with bounded memory, persisted with each batch.

Per device and stream (telemetry and events count ``seq`` separately) we keep
the highest ``seq`` accepted and a bitmask of which of the ``window`` numbers
below it were seen: ~0.5 KiB per stream whatever the history. A ``seq`` above the
high-water mark is new (the numbers skipped are a gap: losses upstream, unless
they arrive late, which an edge agent replaying its outbox does); one inside the
window is new once; one older than the window cannot be told apart from a
duplicate and is refused as *stale* (counted, never silently dropped). After a
``birth`` a ``seq`` far below the window is a factory reset: a new epoch.

The marks change in memory while a batch is processed; the batch's SQL
transaction saves :meth:`SeqTracker.dirty_rows` together with what was stored, and
a failed transaction is undone with :meth:`SeqTracker.rollback`. A restarted
gateway therefore knows exactly which redelivered messages it already stored.

>>> tracker = SeqTracker(window=8)
>>> tracker.begin()
>>> [tracker.check("ac-1", "t", s).verdict.value for s in (5, 6, 6, 9, 7, 0)]
['new', 'new', 'duplicate', 'new', 'new', 'stale']
>>> tracker.check("ac-1", "t", 10).gaps, tracker.check("ac-1", "t", 13).gaps
(0, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base

DEFAULT_WINDOW = 4096
TELEMETRY_STREAM = "t"
EVENT_STREAM = "e"


class DedupMark(Base):
    """The persisted marks: one row per (device, stream)."""

    __tablename__ = "dedup_marks"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(1), primary_key=True)
    high_water: Mapped[int] = mapped_column(BigInteger)
    seen: Mapped[bytes] = mapped_column(LargeBinary)


class Verdict(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class SeqCheck:
    verdict: Verdict
    #: seq numbers skipped by this message (positive) or filled late (negative).
    gaps: int = 0
    #: the device's counter restarted (factory reset after a birth).
    reset: bool = False


_Mark = tuple[int, int]  # (high_water, seen bitmask: bit i = high_water - i was accepted)


class SeqTracker:
    """High-water mark plus a bitmask window per (device, stream)."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1 or window % 8:
            raise ValueError("window must be a positive multiple of 8")
        self.window = window
        self._mask = (1 << window) - 1
        self._marks: dict[tuple[str, str], _Mark] = {}
        self._undo: dict[tuple[str, str], _Mark | None] = {}
        self._reset_allowed: set[str] = set()

    def begin(self) -> None:
        self._undo.clear()

    def rollback(self) -> None:
        for key, before in self._undo.items():
            if before is None:
                self._marks.pop(key, None)
            else:
                self._marks[key] = before
        self._undo.clear()

    def allow_reset(self, device_id: str) -> None:
        """A ``birth`` arrived: a seq restarting far below the window is a factory reset."""
        self._reset_allowed.add(device_id)

    def check(self, device_id: str, stream: str, seq: int) -> SeqCheck:
        """Classify ``seq`` and, when it is new, record it."""
        key = (device_id, stream)
        mark = self._marks.get(key)
        if mark is None:
            self._set(key, mark, (seq, 1))
            return SeqCheck(Verdict.NEW)
        high, seen = mark
        if seq > high:
            shift = seq - high
            seen = ((seen << shift) | 1) & self._mask if shift < self.window else 1
            self._set(key, mark, (seq, seen))
            return SeqCheck(Verdict.NEW, gaps=shift - 1)
        offset = high - seq
        if offset >= self.window:
            if device_id in self._reset_allowed:
                self._reset_allowed.discard(device_id)
                self._set(key, mark, (seq, 1))
                return SeqCheck(Verdict.NEW, reset=True)
            return SeqCheck(Verdict.STALE)
        bit = 1 << offset
        if seen & bit:
            return SeqCheck(Verdict.DUPLICATE)
        self._set(key, mark, (high, seen | bit))
        return SeqCheck(Verdict.NEW, gaps=-1)

    def _set(self, key: tuple[str, str], before: _Mark | None, after: _Mark) -> None:
        if key not in self._undo:
            self._undo[key] = before
        self._marks[key] = after

    def dirty_rows(self) -> list[dict[str, Any]]:
        """Rows for ``dedup_marks``: every mark changed since :meth:`begin`."""
        nbytes = self.window // 8
        rows = []
        for key in self._undo:
            mark = self._marks.get(key)
            if mark is None:
                continue
            rows.append(
                {
                    "device_id": key[0],
                    "stream": key[1],
                    "high_water": mark[0],
                    "seen": mark[1].to_bytes(nbytes, "little"),
                }
            )
        return rows

    def load(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Restore the marks saved by earlier batches (the store's rows, at start-up)."""
        self._marks.clear()
        for row in rows:
            seen = int.from_bytes(row["seen"], "little") & self._mask
            self._marks[(row["device_id"], row["stream"])] = (int(row["high_water"]), seen)

    def __len__(self) -> int:
        return len(self._marks)
