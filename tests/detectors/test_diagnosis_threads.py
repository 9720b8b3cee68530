"""The diagnoser is shared: outcomes are learned on API threads while the pipeline diagnoses."""

from __future__ import annotations

import pickle
import random
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from detectors.diagnosis import Diagnoser
from detectors.signatures import PATTERNS, SIGNALS
from edge.contract import Fault, Kind

Ranked = tuple[tuple[Fault, float], ...]


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Let threads switch every microsecond, so a missing lock shows within a test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def outcomes(kind: Kind, n: int) -> list[tuple[list[float], Fault | None]]:
    """``n`` technician outcomes: random residual patterns, random root causes or none."""
    rng = random.Random(7)
    labels: list[Fault | None] = [*PATTERNS[kind], None]
    width = len(SIGNALS[kind])
    return [([rng.gauss(0.0, 3.0) for _ in range(width)], rng.choice(labels)) for _ in range(n)]


def in_turn(*workers: Callable[[], None]) -> list[BaseException]:
    """Run ``workers`` on threads of their own; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as error:  # collected for the assertion
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(work)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.usefixtures("busy_switching")
@pytest.mark.parametrize("kind", list(PATTERNS))
def test_diagnosing_while_another_thread_learns_sees_whole_outcomes_only(kind: Kind) -> None:
    taught = outcomes(kind, 300)
    probe = [random.Random(11).gauss(0.0, 2.0) for _ in SIGNALS[kind]]
    # Learned on one thread: the diagnosis after each whole number of outcomes.
    reference = Diagnoser(kind)
    whole: set[Ranked] = {tuple(reference.diagnose(probe))}
    for z, actual in taught:
        reference.learn(z, actual)
        whole.add(tuple(reference.diagnose(probe)))

    shared = Diagnoser(kind)
    learned = threading.Event()
    seen: list[Ranked] = []
    checkpoints: list[bytes] = []

    def learn() -> None:
        try:
            for z, actual in taught:
                shared.learn(z, actual)
        finally:
            learned.set()

    def diagnose() -> None:
        while not learned.is_set():
            seen.append(tuple(shared.diagnose(probe)))

    def checkpoint() -> None:
        while not learned.is_set():
            checkpoints.append(pickle.dumps(shared))

    assert in_turn(learn, diagnose, checkpoint) == []
    assert seen
    assert checkpoints
    assert set(seen) <= whole, "a diagnosis saw a model halfway through an outcome"
    # Our own checkpoints, written above: nothing untrusted is unpickled.
    restored = {tuple(pickle.loads(data).diagnose(probe)) for data in checkpoints}  # noqa: S301
    assert restored <= whole, "a checkpoint caught a model halfway through an outcome"
    assert tuple(shared.diagnose(probe)) == tuple(reference.diagnose(probe))


def test_a_diagnoser_pickles_as_it_did_before_it_had_a_lock() -> None:
    """The fleet checkpoint's bytes: the same four fields, and a restored copy can learn."""
    diagnoser = Diagnoser(Kind.WASHER)
    diagnoser.learn([1.0] * len(SIGNALS[Kind.WASHER]), Fault.BEARING_WEAR)
    assert list(diagnoser.__getstate__()) == ["kind", "names", "classifier", "outcomes"]
    restored = pickle.loads(pickle.dumps(diagnoser))  # noqa: S301 - our own bytes
    restored.learn([1.0] * len(SIGNALS[Kind.WASHER]), None)
    assert restored.outcomes == 2
