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
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from river import linear_model

from detectors.baseline import CohortBaseline
from detectors.signatures import PATTERNS, SIGNALS
from detectors.state import FAULT_BLOCKS, SIGNAL_BLOCKS
from edge.contract import Kind

if TYPE_CHECKING:
    from detectors.fleet import HousecallDetector

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


# --- baselines as artifacts: cohort models learned on one fleet, shipped to another ---

#: The baseline file's format name; a reader refuses any other.
BASELINE_FORMAT = "housecall.baseline/1"


class BaselineError(ValueError):
    """A baseline that cannot be used: its message is one readable line."""


def _blr_state(model: linear_model.BayesianLinearRegression) -> dict[str, Any]:
    """A regression's exact state as JSON values (arrays as nested lists)."""
    state: dict[str, Any] = {}
    for name, value in vars(model).items():
        if isinstance(value, np.ndarray):
            fortran = value.ndim > 1 and not value.flags.c_contiguous
            state[name] = {"array": value.tolist(), "order": "F" if fortran else "C"}
        else:
            state[name] = value
    return state


def _blr_from(state: dict[str, Any]) -> linear_model.BayesianLinearRegression:
    model = linear_model.BayesianLinearRegression(
        alpha=state["alpha"], beta=state["beta"], smoothing=state["smoothing"]
    )
    if set(state) != set(vars(model)):
        raise BaselineError("the baseline's regressions come from another river version")
    for name, value in state.items():
        if isinstance(value, dict) and "array" in value:
            setattr(model, name, np.array(value["array"], dtype=np.float64, order=value["order"]))
        else:
            setattr(model, name, value)
    return model


def _probe(cohort: CohortBaseline) -> tuple[dict[str, float], dict[str, float]]:
    """A point inside the cohort's learned conditions, to check predictions on import."""
    x = {name: (cohort.low[name] + cohort.high[name]) / 2 for name in sorted(cohort.low)}
    return x, x


def export_baseline(detector: HousecallDetector, *, source: str) -> dict[str, Any]:
    """The detector's cohort models and units' spread as a JSON document (no device ids).

    Only learned cohorts are exported (queued samples are applied first, as the next hour
    would). Each cohort carries its predictions at a probe point, so an importer proves
    the models it rebuilt predict exactly what the exporter's did.
    """
    cohorts = []
    for (kind, model, regime), cohort in sorted(detector.cohorts.items()):
        cohort.apply_pending()
        if not any(cohort.samples):
            continue
        x, x_external = _probe(cohort)
        check = [p if not math.isnan(p) else None for p in cohort.predict(x, x_external)]
        cohorts.append(
            {
                "kind": kind,
                "model": model,
                "regime": regime,
                "floors": list(cohort.floors),
                "external": sorted(cohort.external),
                "level_only": sorted(cohort.level_only),
                "spread": list(cohort.spread),
                "samples": list(cohort.samples),
                "low": cohort.low,
                "high": cohort.high,
                "units": len(cohort.units),
                "models": [_blr_state(m) for m in cohort.models],
                "check": check,
            }
        )
    spreads = {
        kind.value: {"mean_abs": s.mean_abs, "units": s.units, "min_units": s.min_units}
        for kind, s in detector.unit_spreads.items()
    }
    body: dict[str, Any] = {
        "format": BASELINE_FORMAT,
        "detector_version": detector_version(),
        "source": source,
        "cohorts": cohorts,
        "unit_spreads": spreads,
    }
    body["checksum"] = baseline_checksum(body)
    return body


def baseline_checksum(body: dict[str, Any]) -> str:
    """SHA-256 of the document without its checksum, in canonical JSON."""
    content = {k: v for k, v in body.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class BaselineImport:
    """What an import changed: cohorts per kind, and whether the spreads were taken."""

    cohorts: dict[str, int]
    replaced: int
    spreads: tuple[str, ...]


def import_baseline(detector: HousecallDetector, body: Any) -> BaselineImport:
    """Validate a baseline document whole, then load it into ``detector``.

    Refuses (:class:`BaselineError`, nothing changed) a document of another format or
    detector version, a bad checksum, an unknown kind, a cohort whose signals or
    conditions differ from this detector's, and models that do not predict what the
    exporter's did. Imported cohorts replace the detector's own for the same kind, model
    and regime; each signal's units' spread is taken where it knows more units than the
    detector's own.
    """
    if not isinstance(body, dict) or body.get("format") != BASELINE_FORMAT:
        raise BaselineError(f"not a Housecall baseline (format {BASELINE_FORMAT} expected)")
    if body.get("checksum") != baseline_checksum(body):
        raise BaselineError("checksum mismatch: the file is damaged or was edited")
    if body.get("detector_version") != detector_version():
        raise BaselineError(
            f"baseline of detector version {body.get('detector_version')}, this detector is "
            f"{detector_version()}: export it again from a gateway of this version"
        )
    cohorts: dict[tuple[str, str, str], CohortBaseline] = {}
    try:
        for item in body["cohorts"]:
            key = (str(item["kind"]), str(item["model"]), str(item["regime"]))
            cohorts[key] = _cohort_from(item)
        spreads = {Kind(k): v for k, v in body["unit_spreads"].items()}
        widths = {k: (len(v["mean_abs"]), len(v["units"])) for k, v in spreads.items()}
    except BaselineError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise BaselineError(f"malformed baseline: {type(err).__name__}: {err}") from None
    for kind, width in widths.items():
        n = len(detector.unit_spreads[kind].units)
        if width != (n, n):
            raise BaselineError(f"the {kind.value} units' spread has other signals")
    replaced = sum(1 for key in cohorts if key in detector.cohorts)
    detector.cohorts.update(cohorts)
    taken = []
    for kind, spread in spreads.items():
        own = detector.unit_spreads[kind]
        for index, (mean_abs, units) in enumerate(
            zip(spread["mean_abs"], spread["units"], strict=True)
        ):
            if int(units) > own.units[index]:  # per signal: the better-known spread wins
                own.mean_abs[index], own.units[index] = float(mean_abs), int(units)
                if kind.value not in taken:
                    taken.append(kind.value)
    counts: dict[str, int] = {}
    for kind_name, _, _ in cohorts:
        counts[kind_name] = counts.get(kind_name, 0) + 1
    return BaselineImport(counts, replaced, tuple(taken))


def _cohort_from(item: dict[str, Any]) -> CohortBaseline:
    from detectors.fleet import HousecallDetector

    kind = Kind(item["kind"])
    template = HousecallDetector().cohort(kind, "template", "")
    where = f"cohort {item['kind']}/{item['model']}/{item['regime']}"
    if tuple(item["floors"]) != template.floors or len(item["models"]) != len(template.models):
        raise BaselineError(f"{where} has other signals than this detector")
    if (
        frozenset(item["external"]) != template.external
        or frozenset(item["level_only"]) != template.level_only
    ):
        raise BaselineError(f"{where} models its signals on other conditions")
    cohort = template
    cohort.models = [_blr_from(state) for state in item["models"]]
    cohort.spread = [float(v) for v in item["spread"]]
    cohort.samples = [int(v) for v in item["samples"]]
    cohort.low = {str(k): float(v) for k, v in item["low"].items()}
    cohort.high = {str(k): float(v) for k, v in item["high"].items()}
    # Device ids stay with the fleet that taught it; only their number matters here.
    cohort.units = {f"baseline-{i}" for i in range(int(item["units"]))}
    x, x_external = _probe(cohort)
    for got, want in zip(cohort.predict(x, x_external), item["check"], strict=True):
        if (want is None) != math.isnan(got) or (want is not None and abs(got - want) > 1e-9):
            raise BaselineError(f"{where}: rebuilt models do not predict what they did")
    return cohort
