"""The disk spool: batches of line protocol waiting for the time-series server, in order.

Every batch goes through the spool (a write-ahead log, one SQLite file in
``spool_dir``): the pipeline appends it, commits the batch's SQL transaction,
and only then may the delivery worker send it and remove it. When the server is
down the spool simply grows; its size is bounded (``spool_max_bytes``): a full
spool makes the pipeline wait, so MQTT messages stay unacknowledged at the
broker instead of being dropped.

SQLite does the hard parts (atomic append and remove, survival of a killed
process); entries are keyed by the pipeline's batch id, so a restart can discard
entries whose SQL transaction never committed.

>>> import tempfile, pathlib
>>> spool = Spool(pathlib.Path(tempfile.mkdtemp()), max_bytes=1 << 20)
>>> spool.append(1, b"m f=1 1", points=1)
>>> [(e.batch_id, e.points) for e in spool.head(10)], spool.size_bytes
([(1, 1)], 7)
>>> spool.remove_through(1); spool.size_bytes
0
>>> spool.close()
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SPOOL_FILE = "spool.sqlite"


class SpoolFull(RuntimeError):
    """Appending would exceed the spool's size bound."""


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    batch_id: int
    body: bytes
    points: int
    created_wall: float


class Spool:
    """Ordered, bounded, crash-safe queue of line-protocol bodies."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / SPOOL_FILE
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS entries (batch_id INTEGER PRIMARY KEY, body BLOB NOT NULL,"
            " points INTEGER NOT NULL, created_wall REAL NOT NULL)"
        )
        size, points, count = self._db.execute(
            "SELECT COALESCE(SUM(LENGTH(body)), 0), COALESCE(SUM(points), 0), COUNT(*) FROM entries"
        ).fetchone()
        self.size_bytes: int = int(size)
        self.points: int = int(points)
        self.entries: int = int(count)
        #: Bumped on every change; see :meth:`wait_for_change`.
        self.generation = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def max_batch_id(self) -> int:
        with self._lock:
            (value,) = self._db.execute("SELECT COALESCE(MAX(batch_id), 0) FROM entries").fetchone()
            return int(value)

    def append(self, batch_id: int, body: bytes, *, points: int) -> None:
        """Add a batch at the end; raises :class:`SpoolFull` past the bound."""
        with self._lock:
            if self.entries and self.size_bytes + len(body) > self.max_bytes:
                raise SpoolFull(
                    f"spool holds {self.size_bytes} bytes; {len(body)} more exceed {self.max_bytes}"
                )
            self._db.execute(
                "INSERT INTO entries (batch_id, body, points, created_wall) VALUES (?, ?, ?, ?)",
                (batch_id, body, points, time.time()),
            )
            self.size_bytes += len(body)
            self.points += points
            self.entries += 1
            self.generation += 1
            self._changed.notify_all()

    def wait_for_space(self, nbytes: int, timeout_s: float) -> bool:
        """Block until ``nbytes`` fit (or the spool is empty); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.entries and self.size_bytes + nbytes > self.max_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def head(
        self, limit: int, *, through: int | None = None, max_bytes: int = 0
    ) -> list[SpoolEntry]:
        """The oldest entries (up to ``limit``, ids <= ``through``, about ``max_bytes`` total)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT batch_id, body, points, created_wall FROM entries"
                " WHERE batch_id <= ? ORDER BY batch_id LIMIT ?",
                (through if through is not None else 2**62, limit),
            ).fetchall()
        out: list[SpoolEntry] = []
        total = 0
        for batch_id, body, points, created in rows:
            if out and max_bytes and total + len(body) > max_bytes:
                break
            out.append(SpoolEntry(int(batch_id), bytes(body), int(points), float(created)))
            total += len(body)
        return out

    def remove_through(self, batch_id: int) -> None:
        """Drop every entry up to and including ``batch_id`` (it was delivered)."""
        self._delete("batch_id <= ?", batch_id)

    def discard_after(self, batch_id: int) -> int:
        """Drop entries above ``batch_id`` (their SQL transaction never committed)."""
        return self._delete("batch_id > ?", batch_id)

    def _delete(self, where: str, batch_id: int) -> int:
        with self._lock:
            size, points, count = self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(body)), 0), COALESCE(SUM(points), 0), COUNT(*)"  # noqa: S608 - a fixed condition, values bound
                f" FROM entries WHERE {where}",
                (batch_id,),
            ).fetchone()
            self._db.execute(f"DELETE FROM entries WHERE {where}", (batch_id,))  # noqa: S608 - a fixed condition, values bound
            self.size_bytes -= int(size)
            self.points -= int(points)
            self.entries -= int(count)
            self.generation += 1
            self._changed.notify_all()
            return int(count)

    def oldest_wall(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(created_wall) FROM entries").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def notify(self) -> None:
        """Wake whoever waits in :meth:`wait_for_change` (e.g. an entry became deliverable)."""
        with self._lock:
            self.generation += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout_s: float) -> None:
        """Block until :attr:`generation` differs from ``seen`` (no lost wake-ups) or timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.generation == seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)
