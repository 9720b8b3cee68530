"""A device's last few samples in memory, for the API when telemetry goes to an external server.

The time-series server's query language differs between InfluxDB and its
look-alikes, so the device page reads these instead; the embedded store (no
server) reads its table. Bounded: ``per_device`` samples per device.

>>> from datetime import UTC, datetime
>>> recent = RecentSamples(per_device=2)
>>> for seq in range(3):
...     recent.add("ac-1", {"seq": seq, "ts": datetime(2026, 1, 1, tzinfo=UTC), "values": {}})
>>> [s["seq"] for s in recent.get("ac-1", 10)]
[2, 1]
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class RecentSamples:
    def __init__(self, per_device: int = 30) -> None:
        self.per_device = per_device
        self._by_device: dict[str, deque[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, device_id: str, sample: dict[str, Any]) -> None:
        with self._lock:
            ring = self._by_device.get(device_id)
            if ring is None:
                ring = self._by_device[device_id] = deque(maxlen=self.per_device)
            ring.append(sample)

    def get(self, device_id: str, limit: int) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            ring = self._by_device.get(device_id)
            return list(reversed(ring))[:limit] if ring else []
