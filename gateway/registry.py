"""The device registry: what the gateway knows of each appliance, kept in memory, saved per batch.

``birth`` fills the identity (kind, brand, model...), ``status`` the online flag,
and every accepted telemetry/event message the counters and ``last_seen_at``
(device time). The registry only changes memory; the pipeline hands
:meth:`DeviceRegistry.dirty_rows` to the batch's SQL transaction, and a failed
transaction is undone with :meth:`DeviceRegistry.rollback`, so the table and
memory never disagree.

>>> from datetime import UTC, datetime
>>> registry = DeviceRegistry()
>>> registry.begin()
>>> info = registry.observe_message("ac-1", datetime(2026, 7, 14, tzinfo=UTC), telemetry=True)
>>> info.device_id, info.kind, registry.counters("ac-1").telemetry_messages
('ac-1', None, 1)
>>> [row["device_id"] for row in registry.dirty_rows()]
['ac-1']
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from edge.contract import Birth, Status


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device's identity as last announced; handed to detectors' consumers and signal sinks.

    Frozen: a new object replaces it when a ``birth`` or ``status`` changes it,
    so a sink may keep a reference.
    """

    device_id: str
    kind: str | None = None
    brand: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    refrigerant: str | None = None
    installed_on: date | None = None
    warranty_until: date | None = None
    region: str | None = None
    postcode: str | None = None
    via: str | None = None
    online: bool | None = None
    birth_at: datetime | None = None


@dataclass(slots=True)
class DeviceCounters:
    """What changes with every message: counts and the latest device time seen."""

    last_seen_at: datetime | None = None
    telemetry_messages: int = 0
    event_messages: int = 0
    seq_gaps: int = 0
    duplicates: int = 0


@dataclass(slots=True)
class _Entry:
    info: DeviceInfo
    counters: DeviceCounters = field(default_factory=DeviceCounters)


class DeviceRegistry:
    """Every known device in memory (a few hundred bytes each); dirty ones saved per batch."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._dirty: set[str] = set()
        self._undo: dict[str, _Entry | None] = {}

    # -- batch bracket -------------------------------------------------------------

    def begin(self) -> None:
        """Start a batch: remember each entry's state before its first change."""
        self._undo.clear()
        self._dirty.clear()

    def rollback(self) -> None:
        """Undo every change since :meth:`begin` (the batch's transaction failed)."""
        for device_id, before in self._undo.items():
            if before is None:
                self._entries.pop(device_id, None)
            else:
                self._entries[device_id] = before
        self._undo.clear()
        self._dirty.clear()

    def _touch(self, device_id: str) -> _Entry:
        entry = self._entries.get(device_id)
        if device_id not in self._undo:
            # DeviceInfo is frozen (shared); only the counters need a copy.
            self._undo[device_id] = (
                None if entry is None else _Entry(entry.info, copy.copy(entry.counters))
            )
        if entry is None:
            entry = _Entry(DeviceInfo(device_id))
            self._entries[device_id] = entry
        self._dirty.add(device_id)
        return entry

    # -- updates -------------------------------------------------------------------

    def observe_birth(self, birth: Birth) -> DeviceInfo:
        entry = self._touch(birth.device_id)
        entry.info = replace(
            entry.info,
            kind=birth.kind.value,
            brand=birth.brand,
            model=birth.model,
            firmware=birth.firmware,
            serial=birth.serial,
            refrigerant=birth.refrigerant.value if birth.refrigerant else None,
            installed_on=birth.installed_on,
            warranty_until=birth.warranty_until,
            region=birth.region,
            postcode=birth.postcode,
            via=birth.via,
            birth_at=birth.ts,
        )
        return entry.info

    def observe_status(self, device_id: str, status: Status) -> DeviceInfo:
        entry = self._touch(device_id)
        entry.info = replace(entry.info, online=status is Status.ONLINE)
        return entry.info

    def observe_message(
        self,
        device_id: str,
        ts: datetime,
        *,
        telemetry: bool,
        kind: str | None = None,
        gaps: int = 0,
        via: str | None = None,
    ) -> DeviceInfo:
        """An accepted telemetry (``telemetry=True``) or event message from ``device_id``."""
        entry = self._touch(device_id)
        counters = entry.counters
        if telemetry:
            counters.telemetry_messages += 1
        else:
            counters.event_messages += 1
        counters.seq_gaps = max(0, counters.seq_gaps + gaps)
        if counters.last_seen_at is None or ts > counters.last_seen_at:
            counters.last_seen_at = ts
        if (kind and entry.info.kind is None) or (via and entry.info.via != via):
            entry.info = replace(
                entry.info, kind=entry.info.kind or kind, via=via or entry.info.via
            )
        return entry.info

    def observe_duplicate(self, device_id: str) -> None:
        self._touch(device_id).counters.duplicates += 1

    # -- reads ---------------------------------------------------------------------

    def info(self, device_id: str) -> DeviceInfo | None:
        entry = self._entries.get(device_id)
        return entry.info if entry else None

    def counters(self, device_id: str) -> DeviceCounters:
        entry = self._entries.get(device_id)
        return copy.copy(entry.counters) if entry else DeviceCounters()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    # -- persistence ---------------------------------------------------------------

    def dirty_rows(self) -> list[dict[str, Any]]:
        """Rows for the ``devices`` table, one per device changed in this batch."""
        now = datetime.now(UTC)
        rows = []
        for device_id in sorted(self._dirty):
            entry = self._entries[device_id]
            info, counters = entry.info, entry.counters
            row = {name: getattr(info, name) for name in _INFO_FIELDS}
            row["last_seen_at"] = counters.last_seen_at
            row["telemetry_messages"] = counters.telemetry_messages
            row["event_messages"] = counters.event_messages
            row["seq_gaps"] = counters.seq_gaps
            row["duplicates"] = counters.duplicates
            row["updated_wall_at"] = now
            rows.append(row)
        return rows

    def load(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Fill memory from the store's ``devices`` rows (at start-up)."""
        self._entries.clear()
        for row in rows:
            self._entries[row["device_id"]] = _entry_from_row(row)


_INFO_FIELDS = tuple(DeviceInfo.__dataclass_fields__)


def _entry_from_row(row: Mapping[Any, Any]) -> _Entry:
    info = DeviceInfo(**{name: row[name] for name in _INFO_FIELDS})
    counters = DeviceCounters(
        last_seen_at=_aware(row["last_seen_at"]),
        telemetry_messages=row["telemetry_messages"] or 0,
        event_messages=row["event_messages"] or 0,
        seq_gaps=row["seq_gaps"] or 0,
        duplicates=row["duplicates"] or 0,
    )
    info = replace(info, birth_at=_aware(info.birth_at))
    return _Entry(info, counters)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
