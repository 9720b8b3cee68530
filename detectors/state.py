"""Per-device detector state: one flat array of floats, named slots, bytes in and out.

A fleet of millions keeps one of these per device, so it is a single ``array('d')``
(8 bytes a number, no per-float Python objects) laid out by a :class:`Layout`, plus three
short strings. ``to_bytes``/``from_bytes`` round-trip it exactly, so a device can be
checkpointed and moved between workers and continue bit for bit.

>>> layout = Layout(("last_ts",), n_signals=2, n_faults=1, buffer=3)
>>> s = DeviceState.new("ac-1", "ac", "M1", layout)
>>> s.v[layout.scalar["last_ts"]] = 5.0
>>> DeviceState.from_bytes(s.to_bytes(), {"ac": layout}).to_bytes() == s.to_bytes()
True
"""

from __future__ import annotations

import json
import struct
from array import array
from dataclasses import dataclass, field

NAN = float("nan")
_VERSION = 1

#: Per-signal blocks, each ``n_signals`` long.
SIGNAL_BLOCKS = ("offset", "offset_n", "z_slow", "z_fast", "last_y", "last_expected")
#: Per-fault blocks, each ``n_faults`` long.
FAULT_BLOCKS = ("count", "open", "first_ts", "first_score", "normal_since", "normal_n", "score")


@dataclass(frozen=True)
class Layout:
    """Where each named number lives in a kind's state array."""

    scalars: tuple[str, ...]
    n_signals: int
    n_faults: int
    buffer: int = 0
    scalar: dict[str, int] = field(init=False)
    block: dict[str, int] = field(init=False)
    buffer_at: int = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        at = 0
        scalar = {}
        for name in self.scalars:
            scalar[name] = at
            at += 1
        block = {}
        for name in SIGNAL_BLOCKS:
            block[name] = at
            at += self.n_signals
        for name in FAULT_BLOCKS:
            block[name] = at
            at += self.n_faults
        object.__setattr__(self, "scalar", scalar)
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "buffer_at", at)
        object.__setattr__(self, "size", at + self.buffer)

    def initial(self) -> array[float]:
        """A fresh state: times and open windows unknown (NaN), counters zero."""
        values = array("d", [0.0]) * self.size
        for name in self.scalars:
            if name.endswith(("_ts", "_since", "_start", "_until")):
                values[self.scalar[name]] = NAN
        for name in ("first_ts", "normal_since"):
            start = self.block[name]
            for i in range(self.n_faults):
                values[start + i] = NAN
        return values


class DeviceState:
    """The state the detector keeps for one device."""

    __slots__ = ("device_id", "kind", "model", "regime", "v")

    def __init__(self, device_id: str, kind: str, model: str, regime: str, v: array[float]):
        self.device_id = device_id
        self.kind = kind
        self.model = model
        self.regime = regime
        self.v = v

    @classmethod
    def new(cls, device_id: str, kind: str, model: str, layout: Layout) -> DeviceState:
        return cls(device_id, kind, model, "", layout.initial())

    def to_bytes(self) -> bytes:
        header = json.dumps([self.device_id, self.kind, self.model, self.regime]).encode()
        return struct.pack("<BH", _VERSION, len(header)) + header + self.v.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, layouts: dict[str, Layout]) -> DeviceState:
        version, length = struct.unpack_from("<BH", data)
        if version != _VERSION:
            raise ValueError(f"unknown detector state version {version}")
        device_id, kind, model, regime = json.loads(data[3 : 3 + length])
        values = array("d")
        values.frombytes(data[3 + length :])
        if len(values) != layouts[kind].size:
            raise ValueError("detector state does not match this detector's layout")
        return cls(device_id, kind, model, regime, values)
