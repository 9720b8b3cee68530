"""Per-device detector state: one flat array of floats, named fields, bytes in and out.

A fleet of millions keeps one of these per device, so it is a single ``array('d')``
(8 bytes a number, no per-float Python objects) laid out by a :class:`Layout`, plus three
short strings. ``to_bytes``/``from_bytes`` round-trip it exactly, so a device can be
checkpointed and moved between workers and continue bit for bit.

Code never indexes the array by a bare number. A scalar is a named field of the state:
:class:`DeviceState` declares the ones every kind has (``state.last_ts``,
``state.faults_seen``...), and each kind's module subclasses it with its own, declared
with ``name = Scalar()`` in layout order; each becomes a property over its slot of the
array, so the state object stays three strings and the array (no per-message view is
made, and nothing but the array is checkpointed). Per-signal and per-fault numbers live in
blocks found by name through :attr:`Layout.at` (``v[at.z_slow + i]`` is signal ``i``'s
smoothed residual).

>>> class Demo(DeviceState):
...     __slots__ = ()
...     window_start = Scalar()
>>> layout = Layout.of(Demo, n_signals=2, n_faults=1, buffer=3)
>>> s = DeviceState.new("ac-1", "ac", "M1", layout)
>>> isinstance(s, Demo), s.last_ts
(True, nan)
>>> s.window_start = 5.0
>>> s.v[layout.scalar["window_start"]]
5.0
>>> DeviceState.from_bytes(s.to_bytes(), {"ac": layout}).to_bytes() == s.to_bytes()
True
"""

from __future__ import annotations

import json
import struct
from array import array
from dataclasses import dataclass, field
from typing import ClassVar, overload

NAN = float("nan")
_VERSION = 1

#: Per-signal blocks, each ``n_signals`` long.
SIGNAL_BLOCKS = ("offset", "offset_n", "z_slow", "z_fast", "last_y", "last_expected")
#: Per-fault blocks, each ``n_faults`` long.
FAULT_BLOCKS = ("count", "open", "first_ts", "first_score", "normal_since", "normal_n", "score")


@dataclass(frozen=True, slots=True)
class Blocks:
    """Where each per-signal and per-fault block starts in a kind's state array.

    Signal ``i``'s number of a signal block is at ``block + i``, fault ``k``'s (its
    position in ``FAULT_ORDER``) at ``block + k``. Field for field :data:`SIGNAL_BLOCKS`
    then :data:`FAULT_BLOCKS`, which name the checkpointed layout.
    """

    #: The unit's learned offset from its cohort, per signal.
    offset: int
    #: Windows averaged into the offset during the unit's warm-up.
    offset_n: int
    #: The smoothed standardised residual the signatures are scored on.
    z_slow: int
    #: The last window's standardised residual.
    z_fast: int
    #: The last judged value, and what the cohort and offset expected of it (evidence).
    last_y: int
    last_expected: int
    #: Bit set of which of the latest ``persist_of`` windows had evidence, per fault.
    count: int
    #: 1.0 while a finding of the fault is open.
    open: int
    #: Device time and score of the first window of the current evidence.
    first_ts: int
    first_score: int
    #: Device time since which an open fault looked normal, and for how many windows.
    normal_since: int
    normal_n: int
    #: The fault's latest signature score.
    score: int


if Blocks.__slots__ != SIGNAL_BLOCKS + FAULT_BLOCKS:  # pragma: no cover - a wrong edit
    raise AssertionError("Blocks must name SIGNAL_BLOCKS then FAULT_BLOCKS, in order")


class Scalar:
    """Declares one named scalar of a :class:`DeviceState` class: ``name = Scalar()``.

    The declaration is what type checkers see (a float to read and write); when the class
    is made, it is replaced by a property whose slot index is a constant of its closure,
    the cheapest access Python offers short of indexing the array directly.
    """

    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: object = None) -> Scalar: ...
    @overload
    def __get__(self, obj: DeviceState, owner: object = None) -> float: ...
    def __get__(self, obj: DeviceState | None, owner: object = None) -> float | Scalar:
        raise TypeError("a Scalar is replaced by a property when its class is made")

    def __set__(self, obj: DeviceState, value: float) -> None:
        raise TypeError("a Scalar is replaced by a property when its class is made")


def _field(at: int, name: str) -> property:
    """A property over slot ``at`` of a state's array."""

    def get(self: DeviceState) -> float:
        return self.v[at]

    def put(self: DeviceState, value: float) -> None:
        self.v[at] = value

    return property(get, put, doc=f"Scalar {name!r} (slot {at} of the state array).")


class DeviceState:
    """The state the detector keeps for one device, with the scalars every kind has.

    A kind's subclass declares its own scalars as ``name = Scalar()``; they follow those
    of its base class in the array, in declaration order. ``extra`` names further scalars
    that get a slot but no property (numbered families a kind reaches by index, such as
    one slot per thermistor): :meth:`index` finds them.
    """

    __slots__ = ("device_id", "kind", "model", "regime", "v")
    #: Every scalar of this state, in layout order (the base class's first).
    NAMES: ClassVar[tuple[str, ...]] = ()

    #: Device time of the newest sample taken (older ones are late).
    last_ts = Scalar()
    #: Windows (AC) or cycles (washer) judged so far.
    windows = Scalar()
    #: Samples of this device that came late, out of order or twice.
    late = Scalar()
    #: Bit set of the faults (``FAULT_ORDER`` positions) the device has had findings for.
    faults_seen = Scalar()
    #: The baseline the device is judged against (``judging.OWN_COHORT`` or
    #: ``judging.POOLED_COHORT``; 0 while not chosen).
    baseline = Scalar()
    #: Device time the device started waiting for its model's cohort.
    baseline_wait_ts = Scalar()

    def __init__(self, device_id: str, kind: str, model: str, regime: str, v: array[float]):
        self.device_id = device_id
        self.kind = kind
        self.model = model
        self.regime = regime
        self.v = v

    def __init_subclass__(cls, *, extra: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _declare(cls, extra)

    @classmethod
    def index(cls, name: str) -> int:
        """The slot of scalar ``name`` (for the ``extra`` families)."""
        return cls.NAMES.index(name)

    @classmethod
    def new(cls, device_id: str, kind: str, model: str, layout: Layout) -> DeviceState:
        """A fresh state of ``layout`` (of the layout's state class)."""
        return layout.state(device_id, kind, model, "", layout.initial())

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
        layout = layouts[kind]
        if len(values) != layout.size:
            raise ValueError("detector state does not match this detector's layout")
        return layout.state(device_id, kind, model, regime, values)


def _declare(cls: type[DeviceState], extra: tuple[str, ...]) -> None:
    """Give each ``Scalar`` declared in ``cls`` its slot, after those of its bases."""
    declared = [name for name, value in vars(cls).items() if isinstance(value, Scalar)]
    for at, name in enumerate(declared, len(cls.NAMES)):
        setattr(cls, name, _field(at, name))
    cls.NAMES = (*cls.NAMES, *declared, *extra)
    if len(set(cls.NAMES)) != len(cls.NAMES):
        raise TypeError(f"{cls.__name__} declares a scalar twice")


_declare(DeviceState, ())


@dataclass(frozen=True)
class Layout:
    """Where each named number lives in a kind's state array."""

    scalars: tuple[str, ...]
    n_signals: int
    n_faults: int
    buffer: int = 0
    #: The class of this kind's states (its named fields).
    state: type[DeviceState] = DeviceState
    scalar: dict[str, int] = field(init=False)
    block: dict[str, int] = field(init=False)
    #: The same starts as ``block``, as named fields.
    at: Blocks = field(init=False)
    buffer_at: int = field(init=False)
    size: int = field(init=False)

    @classmethod
    def of(cls, state: type[DeviceState], n_signals: int, n_faults: int, buffer: int = 0) -> Layout:
        """The layout of ``state``'s scalars, then the blocks, then ``buffer`` numbers."""
        return cls(state.NAMES, n_signals, n_faults, buffer, state)

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
        object.__setattr__(self, "at", Blocks(**block))
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
