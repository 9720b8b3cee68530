"""The edge agent's durable outbox: every accepted reading stays here until upstream has it.

Storage: one SQLite file in WAL mode.

Fsync policy: ``PRAGMA synchronous=FULL`` and one transaction per batch. In WAL mode
FULL syncs the write-ahead log on every commit, so when :meth:`Outbox.transaction`
returns, the batch survives a SIGKILL *and* a power cut; only then does the agent
acknowledge the batch's messages to the home broker. Deleting a row once upstream
acknowledged it is a commit as well; losing such a delete in a crash only causes a
duplicate, which the gateway removes by ``(device_id, seq)``.

Rows get ``INTEGER PRIMARY KEY AUTOINCREMENT`` ids, so ids never repeat and id order is
acceptance order: forwarding in id order keeps every device's messages in order.

Disk budget and overflow policy (``budget_bytes``):

- every row is charged ``len(payload) + len(topic) + ROW_OVERHEAD_BYTES``;
- after each batch, while the charged total exceeds the budget, the OLDEST telemetry row
  that has not been handed to upstream yet is deleted and counted in
  ``dropped.telemetry_over_budget`` (and in ``dropped_by_device``);
- events, births and statuses are NEVER dropped: if only they remain, the outbox grows
  past the budget and ``over_budget`` says so in the agent's status (they are rare and
  each one matters: an error code is what the customer saw);
- rows already handed to upstream (in flight) are not dropped: they may be delivered.

The file itself may exceed the charged total by the WAL (checkpointed automatically at
~4 MB) and free pages; keep the budget a little below the space you can give.

Dead letters: a local message that breaks the contract is not forwarded; it is kept in
``dead_letters`` with its reason (newest ``dead_letter_keep`` rows; older ones are evicted
and counted in ``dead_letters.evicted``) and counted in ``dead_letters.<reason>``.

All counters live in the same file and are updated in the same transactions, so they
survive restarts and agree with the rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

ROW_OVERHEAD_BYTES = 64
TELEMETRY = "telemetry"
DROPPED_OVER_BUDGET = "dropped.telemetry_over_budget"
DEAD_LETTER_PREFIX = "dead_letters."
DEAD_LETTERS_EVICTED = "dead_letters.evicted"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    accepted_at REAL NOT NULL,
    charge INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_channel ON outbox (channel, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending_features (
    device_id TEXT PRIMARY KEY,
    features BLOB NOT NULL,
    burst_ts TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored message, as it will be published upstream."""

    id: int
    device_id: str
    channel: str
    topic: str
    payload: bytes
    retain: bool
    accepted_at: float


@dataclass(frozen=True, slots=True)
class OutboxStats:
    rows: int
    charged_bytes: int
    budget_bytes: int
    oldest_accepted_at: float | None

    @property
    def over_budget(self) -> bool:
        return self.charged_bytes > self.budget_bytes


def charge_of(topic: str, payload: bytes) -> int:
    return len(payload) + len(topic) + ROW_OVERHEAD_BYTES


class Outbox:
    """SQLite-backed store-and-forward queue; use from one thread."""

    def __init__(
        self,
        path: str | Path,
        *,
        budget_bytes: int,
        dead_letter_keep: int = 10_000,
    ) -> None:
        if budget_bytes <= 0:
            raise ValueError("budget_bytes must be positive")
        self.path = Path(path)
        self.budget_bytes = budget_bytes
        self.dead_letter_keep = dead_letter_keep
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        charged, rows = self._db.execute(
            "SELECT COALESCE(SUM(charge), 0), COUNT(*) FROM outbox"
        ).fetchone()
        self._charged = int(charged)
        self._rows = int(rows)
        self._counters: dict[str, int] = dict(self._db.execute("SELECT name, value FROM counters"))
        # Devices holding burst features: most telemetry finds none, and asking SQLite costs
        # ~100 us a message.
        self._devices_with_features = self._load_devices_with_features()

    def _load_devices_with_features(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT device_id FROM pending_features")}

    def close(self) -> None:
        self._db.close()

    # -- writing -------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, droppable_after_id: int = 0) -> Iterator[Batch]:
        """One durable batch: everything done through the yielded :class:`Batch` commits
        together (fsync'd) when the block ends, or not at all if it raises.

        ``droppable_after_id``: rows with a larger id have not been handed to upstream and
        may be dropped by the budget policy.
        """
        batch = Batch(self)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield batch
            batch.flush()
            self._enforce_budget(batch, droppable_after_id)
            self._flush_counters(batch)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._devices_with_features = self._load_devices_with_features()
            raise
        self._charged += batch.charged_delta
        self._rows += batch.rows_delta
        for name, n in batch.counts.items():
            self._counters[name] = self._counters.get(name, 0) + n

    def forget(self, ids: Iterable[int], extra_counts: dict[str, int] | None = None) -> int:
        """Delete rows upstream acknowledged (one fsync'd commit); returns how many.

        ``extra_counts`` are added to the counters in the same commit.
        """
        wanted = list(ids)
        if not wanted:
            return 0
        removed = 0
        charge = 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found = self._db.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(charge), 0) FROM outbox WHERE id IN ({marks})",  # noqa: S608 - placeholders only, values bound
                    chunk,
                ).fetchone()
                self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)  # noqa: S608 - placeholders only
                removed += int(found[0])
                charge += int(found[1])
            counts = {"forwarded": removed, **(extra_counts or {})}
            self._db.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                list(counts.items()),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._charged -= charge
        self._rows -= removed
        for name, n in counts.items():
            self._counters[name] = self._counters.get(name, 0) + n
        return removed

    def _enforce_budget(self, batch: Batch, droppable_after_id: int) -> None:
        excess = self._charged + batch.charged_delta - self.budget_bytes
        while excess > 0:
            victims = self._db.execute(
                "SELECT id, device_id, charge FROM outbox WHERE channel = ? AND id > ? "
                "ORDER BY id LIMIT 256",
                (TELEMETRY, droppable_after_id),
            ).fetchall()
            if not victims:
                return  # only events/births/statuses (or in-flight rows) left: keep them
            chosen: list[int] = []
            for row_id, device_id, charge in victims:
                chosen.append(row_id)
                batch.count(DROPPED_OVER_BUDGET)
                batch.count(f"dropped_by_device.{device_id}")
                batch.charged_delta -= charge
                batch.rows_delta -= 1
                excess -= charge
                if excess <= 0:
                    break
            marks = ",".join("?" * len(chosen))
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chosen)  # noqa: S608 - placeholders only

    def _flush_counters(self, batch: Batch) -> None:
        self._db.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            list(batch.counts.items()),
        )

    # -- reading -------------------------------------------------------------------

    def next_rows(self, after_id: int, limit: int) -> list[OutboxRow]:
        """Rows in acceptance order with ``id > after_id``."""
        cursor = self._db.execute(
            "SELECT id, device_id, channel, topic, payload, retain, accepted_at FROM outbox "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [OutboxRow(r[0], r[1], r[2], r[3], bytes(r[4]), bool(r[5]), r[6]) for r in cursor]

    def stats(self) -> OutboxStats:
        oldest = self._db.execute("SELECT MIN(accepted_at) FROM outbox").fetchone()[0]
        return OutboxStats(self._rows, self._charged, self.budget_bytes, oldest)

    def counters(self) -> dict[str, int]:
        """Every counter (accepted.*, forwarded, replayed, dropped.*, dead_letters.*, ...)."""
        return dict(self._counters)

    def dead_letters(self, limit: int = 100) -> list[tuple[str, str, str, bytes]]:
        """Newest dead letters as (topic, reason, detail, payload)."""
        rows = self._db.execute(
            "SELECT topic, reason, detail, payload FROM dead_letters ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(t, r, d, bytes(p)) for t, r, d, p in rows]

    def count_rows(self, channel: str | None = None) -> int:
        if channel is None:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        query = "SELECT COUNT(*) FROM outbox WHERE channel = ?"
        return int(self._db.execute(query, (channel,)).fetchone()[0])


class Batch:
    """What one :meth:`Outbox.transaction` writes; only valid inside the ``with`` block."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._db = outbox._db  # noqa: SLF001 - the outbox's own helper
        self.counts: dict[str, int] = {}
        self.charged_delta = 0
        self.rows_delta = 0
        self._pending_rows: list[tuple[str, str, str, bytes, int, float, int]] = []

    def flush(self) -> None:
        """Insert the rows added so far (one ``executemany``; ids follow the add order)."""
        if self._pending_rows:
            self._db.executemany(
                "INSERT INTO outbox "
                "(device_id, channel, topic, payload, retain, accepted_at, charge) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                self._pending_rows,
            )
            self._pending_rows.clear()

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def add(self, device_id: str, channel: str, topic: str, payload: bytes, retain: bool) -> None:
        charge = charge_of(topic, payload)
        self._pending_rows.append(
            (device_id, channel, topic, payload, int(retain), time.time(), charge)
        )
        self.charged_delta += charge
        self.rows_delta += 1
        self.count(f"accepted.{channel}")

    def dead_letter(self, topic: str, reason: str, detail: str, payload: bytes) -> None:
        self._db.execute(
            "INSERT INTO dead_letters (received_at, topic, reason, detail, payload) "
            "VALUES (?, ?, ?, ?, ?)",
            (time.time(), topic, reason, detail[:1000], payload),
        )
        self.count(f"{DEAD_LETTER_PREFIX}{reason}")
        evicted = self._db.execute(
            "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?",
            (self._outbox.dead_letter_keep,),
        ).rowcount
        if evicted > 0:
            self.count(DEAD_LETTERS_EVICTED, evicted)

    def put_features(self, device_id: str, features: dict[str, float], burst_ts: str) -> None:
        """Hold a burst's features for the device's next telemetry (a newer burst wins)."""
        replaced = self._db.execute(
            "DELETE FROM pending_features WHERE device_id = ?", (device_id,)
        ).rowcount
        if replaced > 0:
            self.count("features.superseded")
        self._db.execute(
            "INSERT INTO pending_features (device_id, features, burst_ts) VALUES (?, ?, ?)",
            (device_id, orjson.dumps(features), burst_ts),
        )
        self._outbox._devices_with_features.add(device_id)  # noqa: SLF001 - the outbox's own helper
        self.count("features.bursts")

    def take_features(self, device_id: str) -> dict[str, float] | None:
        """The features held for ``device_id`` (removed from the store), if any."""
        if device_id not in self._outbox._devices_with_features:  # noqa: SLF001 - the outbox's own helper
            return None
        self._outbox._devices_with_features.discard(device_id)  # noqa: SLF001 - the outbox's own helper
        row = self._db.execute(
            "DELETE FROM pending_features WHERE device_id = ? RETURNING features", (device_id,)
        ).fetchone()
        if row is None:
            return None
        self.count("features.attached")
        features: dict[str, float] = orjson.loads(row[0])
        return features


def total_dropped(counters: dict[str, int], prefixes: Sequence[str] = ("dropped.",)) -> int:
    """Sum of the ``dropped.*`` counters (the figure the agent's status reports)."""
    return sum(v for k, v in counters.items() if k.startswith(tuple(prefixes)))
