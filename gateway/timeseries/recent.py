"""A device's last few samples in memory, for the API when telemetry goes to an external server.

The time-series server's query language differs between InfluxDB and its
look-alikes, so the device page reads these instead; the embedded store (no
server) reads its table. Bounded: ``per_device`` samples per device. The
messages themselves are kept (they are immutable) and turned into JSON-ready
dicts only when someone asks, so ingest pays one ``append`` per sample.

>>> from tests.gateway.helpers import telemetry
>>> from edge.contract import Telemetry
>>> recent = RecentSamples(per_device=2)
>>> for seq in range(3):
...     recent.add(Telemetry.model_validate_json(telemetry("ac-1", seq)[1]))
>>> [s["seq"] for s in recent.get("ac-1", 10)]
[2, 1]
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from edge.contract import Telemetry


class RecentSamples:
    def __init__(self, per_device: int = 30) -> None:
        self.per_device = per_device
        self._by_device: dict[str, deque[Telemetry]] = {}
        self._lock = threading.Lock()

    def add(self, message: Telemetry) -> None:
        ring = self._by_device.get(message.device_id)
        if ring is None:
            with self._lock:
                ring = self._by_device.setdefault(message.device_id, deque(maxlen=self.per_device))
        ring.append(message)  # deque.append is atomic

    def get(self, device_id: str, limit: int) -> list[dict[str, Any]]:
        """Newest first, as JSON-ready dicts."""
        ring = self._by_device.get(device_id)
        if not ring:
            return []
        newest = list(ring)[::-1][:limit]
        return [
            {
                "seq": message.seq,
                "ts": message.ts,
                "event_type": None,
                "values": message.readings.model_dump(mode="json", exclude_none=True),
            }
            for message in newest
        ]
