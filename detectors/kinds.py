"""The appliance kinds the fleet detector knows, and where each kind's logic lives.

Each kind is one module exporting an :class:`~detectors.judging.ApplianceKind` as
``APPLIANCE``: its readings class, the events it judges, its state layout, its shipped
tuning, and the feature class that turns its samples into windows of derived signals
and runs its direct rules. The fleet detector routes every message by this registry and
knows nothing of any kind's internals.

Adding a third kind (a dishwasher, say) takes:

1. its vocabulary in :mod:`edge.contract` (``Kind.DISHWASHER``, its readings class, its
   faults), as the wire contract must carry it anyway;
2. its signatures in :mod:`detectors.signatures`: the derived signals it produces
   (``SIGNALS``) and each fault's pattern over them (``PATTERNS``); error texts that name
   a part, if any, in :mod:`detectors.errors`;
3. one module, ``detectors/dishwasher.py``: a ``DeviceState`` subclass declaring its
   scalars, its ``Layout.of`` that class, its ``KindTuning``, a feature class whose
   ``on_sample`` and ``on_event`` hand each finished window to ``Judge.score_window``
   and each direct rule's proof to ``Judge.hard_finding``, and its ``APPLIANCE``;
4. one line below.

Nothing in :mod:`detectors.fleet` or :mod:`detectors.judging` changes.
"""

from __future__ import annotations

from typing import Any

from detectors import ac, washer
from detectors.judging import ApplianceKind
from detectors.state import Layout
from edge.contract import Kind

#: Every kind the detector judges, in :class:`~edge.contract.Kind` order.
KINDS: dict[Kind, ApplianceKind[Any, Any]] = {
    appliance.kind: appliance for appliance in (ac.APPLIANCE, washer.APPLIANCE)
}
#: Each kind's state layout, by kind name (what ``DeviceState.from_bytes`` takes).
LAYOUTS: dict[str, Layout] = {kind.value: appliance.layout for kind, appliance in KINDS.items()}
