"""An in-memory :class:`gateway.storage.BatchStore`: the pipeline's tests need no database.

It keeps what a committed batch leaves (registry rows, de-duplication marks, samples,
dead letters, journal rows), replacing rows by their key as the SQL store's upserts do,
and commits a batch whole or not at all. ``reopen()`` gives a new store over the same
memory, as a restarted process sees the same database. ``fail_next`` makes the next
commits raise :class:`StorageUnavailable`, as a store that is down does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge.contract import EventBase, Telemetry
from gateway.registry import DeviceInfo
from gateway.storage import BatchWrite, StorageUnavailable


@dataclass
class Memory:
    """What survives a restart: the "database"."""

    last_batch: int = 0
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    marks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    journal: list[dict[str, Any]] = field(default_factory=list)


class InMemoryStore:
    keeps_samples = True

    def __init__(self, memory: Memory | None = None) -> None:
        self.memory = memory or Memory()
        self.fail_next = 0
        self.commits = 0

    def reopen(self) -> InMemoryStore:
        return InMemoryStore(self.memory)

    def recover(self) -> int:
        return self.memory.last_batch

    def next_batch_id(self) -> int:
        return self.memory.last_batch + 1

    def device_rows(self) -> list[Mapping[str, Any]]:
        return copy.deepcopy(list(self.memory.devices.values()))

    def mark_rows(self) -> list[Mapping[str, Any]]:
        return copy.deepcopy(list(self.memory.marks.values()))

    def stage(self, write: BatchWrite, device: DeviceInfo, message: Telemetry | EventBase) -> None:
        stream = "telemetry" if isinstance(message, Telemetry) else "event"
        write.samples.append(
            {"device_id": message.device_id, "stream": stream, "seq": message.seq, "ts": message.ts}
        )

    def commit(self, write: BatchWrite) -> None:
        if write.batch_id != self.memory.last_batch + 1:
            raise ValueError(f"batch {write.batch_id} out of order (last {self.memory.last_batch})")
        if self.fail_next:
            self.fail_next -= 1
            raise StorageUnavailable("in-memory store told to fail")
        m = self.memory
        m.dead_letters.extend(copy.deepcopy(write.dead_letters))
        m.samples.extend(copy.deepcopy(write.samples))
        m.journal.extend(copy.deepcopy(write.journal))
        for row in write.devices:
            m.devices[row["device_id"]] = dict(row)
        for row in write.marks:
            m.marks[(row["device_id"], row["stream"])] = dict(row)
        m.last_batch = write.batch_id
        self.commits += 1

    def stored(self, device_id: str, stream: str = "telemetry") -> list[int]:
        return sorted(
            int(s["seq"])
            for s in self.memory.samples
            if s["device_id"] == device_id and s["stream"] == stream
        )
