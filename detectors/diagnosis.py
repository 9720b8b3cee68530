"""Name the fault: the signature table's rule prior, sharpened by confirmed outcomes.

The rule prior is a softmax over how well the residual pattern matches each fault's
signature (see :mod:`detectors.signatures`). On top sits a river ``SoftmaxRegression``
that learns from technician-confirmed root causes (``learn_from_outcome``): once it has
seen outcomes, its probabilities multiply into the prior with a weight that grows with
the number of outcomes, so diagnosis improves with use without trusting a handful of
tickets too much. A technician's "no fault found" is learned as the class ``none``,
which lowers the confidence of a pattern that has been a false alarm before.

Outcomes arrive on API threads while the pipeline diagnoses: a :class:`Diagnoser` holds a
lock around its learned model, so a diagnosis never reads a classifier halfway through
an update (river's weights are plain dicts; reading one while another thread adds a key
raises, and a half-learned model gives probabilities no sequence of outcomes explains).
A diagnosis comes only when a finding is about to open, so the lock costs the hot path
nothing.

>>> from edge.contract import Kind, Fault
>>> d = Diagnoser(Kind.WASHER)
>>> z = [0.0] * len(SIGNALS[Kind.WASHER])
>>> z[0] = 5.0  # fill time far above the healthy twin
>>> d.diagnose(z)[0][0]
<Fault.INLET_VALVE_RESTRICTION: 'inlet_valve_restriction'>
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence
from typing import Any

from river import linear_model, optim

from detectors.signatures import PATTERNS, SIGNALS, ProbeResponse, pattern_score, probe_score
from edge.contract import Evidence, Fault, Kind

NONE_CLASS = "none"
#: Sharpness of the rule prior: one z-unit of better match is e^2 more likely.
PRIOR_SHARPNESS = 2.0
#: Outcomes after which the learned classifier counts as much as the rule prior.
OUTCOMES_FOR_FULL_WEIGHT = 10


def fault_scores(
    kind: Kind, z: list[float], room_probe: ProbeResponse | None = None
) -> dict[Fault, float]:
    """Best pattern score per fault of the kind's vocabulary.

    With ``room_probe`` (an AC window whose cohort is known), the room-probe pattern is
    scored by its full response; without, by its static cooling-mode form.
    """
    return {
        fault: max(
            probe_score(room_probe, z)
            if room_probe is not None and p.room_probe
            else pattern_score(p, z)
            for p in patterns
        )
        for fault, patterns in PATTERNS[kind].items()
    }


class Diagnoser:
    """Rule prior plus an online classifier of confirmed root causes, for one kind.

    Safe to share between threads: ``learn``, ``diagnose`` and pickling take the same
    lock, so each sees the model after a whole number of outcomes. Pickled (a fleet
    checkpoint), it is the same state as before the lock existed, and a checkpoint
    written before then loads into a locked one.
    """

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.names = [spec.name for spec in SIGNALS[kind]]
        self.classifier = linear_model.SoftmaxRegression(optimizer=optim.SGD(0.3))
        self.outcomes = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """The learned state without the lock, copied under it (another thread may learn)."""
        with self._lock:
            return {
                "kind": self.kind,
                "names": self.names,
                "classifier": copy.deepcopy(self.classifier),
                "outcomes": self.outcomes,
            }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def features(self, z: list[float]) -> dict[str, float]:
        return {
            name: max(-8.0, min(8.0, value)) / 4.0
            for name, value in zip(self.names, z, strict=True)
            if not math.isnan(value)
        }

    def diagnose(
        self, z: list[float], scores: dict[Fault, float] | None = None
    ) -> list[tuple[Fault, float]]:
        """Faults with probabilities, most likely first (``none`` folded out)."""
        scores = scores if scores is not None else fault_scores(self.kind, z)
        logits = {fault: PRIOR_SHARPNESS * score for fault, score in scores.items()}
        with self._lock:
            outcomes = self.outcomes
            learned: dict[str, float] = (
                self.classifier.predict_proba_one(self.features(z))  # type: ignore[no-untyped-call]
                if outcomes
                else {}
            )
        if outcomes:
            weight = min(1.0, outcomes / OUTCOMES_FOR_FULL_WEIGHT)
            for fault in logits:
                logits[fault] += weight * 3.0 * math.log(learned.get(fault.value, 0.0) + 0.02)
            none_p = learned.get(NONE_CLASS, 0.0)
        else:
            none_p = 0.0
        top = max(logits.values())
        weights = {fault: math.exp(logit - top) for fault, logit in logits.items()}
        total = sum(weights.values())
        ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0].value))
        damp = 1.0 - min(1.0, outcomes / OUTCOMES_FOR_FULL_WEIGHT) * none_p
        return [(fault, damp * w / total) for fault, w in ranked]

    def learn(self, z: list[float], actual: Fault | None) -> None:
        """A technician confirmed ``actual`` (``None``: no fault) for residuals ``z``."""
        label = actual.value if actual is not None else NONE_CLASS
        features = self.features(z)
        with self._lock:
            self.classifier.learn_one(features, label)  # type: ignore[no-untyped-call]
            self.outcomes += 1


def pattern_from_evidence(evidence: Sequence[Evidence]) -> tuple[Kind | None, list[float] | None]:
    """Rebuild a residual pattern from an outcome's evidence (no finding remembered).

    The kind is the first whose signals name every piece of evidence; each signal's z is
    its observed-minus-baseline change (a ratio for log-modelled signals) over three of
    its floors, a conservative stand-in for the cohort's spread.
    """
    for kind, specs in SIGNALS.items():
        names = {spec.name: i for i, spec in enumerate(specs)}
        if evidence and all(e.signal in names for e in evidence):
            z = [0.0] * len(specs)
            for e in evidence:
                i = names[e.signal]
                spec = specs[i]
                if spec.log and e.observed > 0 and e.baseline > 0:
                    delta = math.log(e.observed / e.baseline)
                else:
                    delta = e.observed - e.baseline
                z[i] = delta / (3.0 * spec.floor)
            return kind, z
    return None, None
