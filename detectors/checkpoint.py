"""Which detector learned a piece of state: the version a checkpoint or baseline carries.

Learned state is only meaningful to the detector that learned it: a cohort regression
over one signal list predicts nonsense for another, a device state laid out for one set
of scalars shifts every number after a new one. So every stored piece of learned state
(per-device checkpoints, the fleet's shared models, shipped baselines) carries
:func:`detector_version`, and whoever loads it refuses a different one and lets the unit
re-learn instead of mixing the two silently.

The version is a fingerprint of what decides the meaning of the numbers (the state
layout of every kind, the signals and the fault patterns, in order) plus
:data:`LEARNING_REVISION`, which a change to *how* a number is learned must bump, since
no layout shows it.

>>> v = detector_version()
>>> v == detector_version() and len(v) == 16
True
"""

from __future__ import annotations

import functools
import hashlib
import json

from detectors.signatures import PATTERNS, SIGNALS
from detectors.state import FAULT_BLOCKS, SIGNAL_BLOCKS

#: Bump when the meaning of learned numbers changes without any layout changing (a new
#: smoothing rate, a residual standardised another way): old checkpoints are then refused.
LEARNING_REVISION = 1


@functools.cache
def detector_version() -> str:
    """A short, stable fingerprint of this detector's learned-state meaning."""
    from detectors.fleet import LAYOUTS  # the layouts are assembled by the fleet detector

    described = {
        "revision": LEARNING_REVISION,
        "blocks": [SIGNAL_BLOCKS, FAULT_BLOCKS],
        "layouts": {kind: [list(layout.scalars), layout.size] for kind, layout in LAYOUTS.items()},
        "signals": {
            kind.value: [[s.name, s.unit, s.floor, s.log, s.level_only] for s in specs]
            for kind, specs in SIGNALS.items()
        },
        "faults": {
            kind.value: [fault.value for fault in faults] for kind, faults in PATTERNS.items()
        },
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    return digest[:16]
