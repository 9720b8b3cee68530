"""Identifiers and time helpers shared by the work-order modules.

Ids are ULID-like (48-bit millisecond wall time + 80 random bits, Crockford base32),
so sorting ids sorts by creation time: the API's "newest first" and its cursor are
simply ``ORDER BY id DESC`` and ``id < cursor``.

>>> a, b = new_id("wo"), new_id("wo")
>>> a.startswith("wo_") and len(a) == 29 and a < b
True
>>> aware(datetime(2026, 7, 14, 13, 5)).isoformat()
'2026-07-14T13:05:00+00:00'
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    """``prefix_`` + a 26-character ULID, monotonic within this process."""
    global _last  # noqa: PLW0603 - one process-wide monotonic counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        _last = (ms, rand)
    return f"{prefix}_{_b32(ms, 10)}{_b32(rand, 16)}"


def utcnow() -> datetime:
    """The wall clock, UTC (only for what people and networks do)."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: treat them as the UTC they were stored as."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def maybe_aware(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)
