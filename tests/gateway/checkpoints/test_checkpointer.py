"""Durable detector state: a crash and restart leaves the detectors as if nothing happened.

A small simulated fleet goes through the real pipeline, store and detectors twice: once
without interruption, once with a checkpoint part-way, more batches journaled after it,
and a "crash" (the process's objects abandoned without closing). A fresh pipeline on the
same database restores and replays; from there both runs must hold byte-identical device
states and emit the same signals. On SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, select, update

from detectors.api import Outcome, Signal
from detectors.fleet import HousecallDetector
from edge.contract import Fault
from gateway.checkpoints import CheckpointMetrics, DetectorCheckpointer
from gateway.checkpoints.checkpointer import journal_size
from gateway.checkpoints.tables import DetectorShared, DetectorStateRow
from gateway.db import make_engine
from gateway.pipeline import Pipeline, RawMessage
from gateway.storage import BatchStorage
from simulators.fleet import FleetConfig, simulate

SCOPE = "gw-test"
BATCH = 400


@pytest.fixture(scope="module")
def batches() -> list[list[RawMessage]]:
    """Two days of a small mixed fleet, in the gateway's batch size order."""
    config = FleetConfig(devices=6, days=1.5, seed=31, fault_rate=1.0)
    messages = [RawMessage(m.topic, m.payload, 0.0) for m in simulate(config)]
    return [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def durable_pipeline(engine: Engine, detector: HousecallDetector, **options: float) -> Pipeline:
    checkpointer = DetectorCheckpointer(
        engine,
        detector,
        scope=SCOPE,
        metrics=CheckpointMetrics(),
        interval_s=options.get("interval_s", 1e9),
        max_journal_messages=int(options.get("max_journal", 1e9)),
    )
    pipeline = Pipeline(
        BatchStorage(engine, gateway_id=SCOPE), detector=detector, checkpointer=checkpointer
    )
    pipeline.open()
    return pipeline


def feed(pipeline: Pipeline, batches: Sequence[list[RawMessage]]) -> list[Signal]:
    signals: list[Signal] = []
    for batch in batches:
        signals.extend(pipeline.process(batch).signals)
    return signals


def device_states(detector: HousecallDetector) -> dict[str, bytes]:
    return {d: detector.snapshot(d) or b"" for d in sorted(detector.devices)}


def cohort_predictions(detector: HousecallDetector) -> dict[tuple[str, str, str], list[float]]:
    probe = {"outdoor_c": 30.0, "hz": 50.0, "load": 1.0, "c": 1.0}
    return {key: cohort.predict(probe, probe) for key, cohort in detector.cohorts.items()}


@pytest.mark.slow
def test_restore_and_replay_equal_an_uninterrupted_run(
    engine: Engine, batches: list[list[RawMessage]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    reference_engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")
    reference = HousecallDetector()
    uninterrupted = Pipeline(BatchStorage(reference_engine, gateway_id=SCOPE), detector=reference)
    uninterrupted.open()
    checkpoint_at, crash_at = len(batches) // 3, 2 * len(batches) // 3
    before = feed(uninterrupted, batches[:crash_at])
    after_reference = feed(uninterrupted, batches[crash_at:])
    del before
    learned = [
        v for values in cohort_predictions(reference).values() for v in values if not math.isnan(v)
    ]
    assert learned, "the fleet should teach its cohorts something"

    first = HousecallDetector()
    crashed = durable_pipeline(engine, first)
    feed(crashed, batches[:checkpoint_at])
    assert crashed.checkpointer is not None
    crashed.checkpointer.checkpoint(wait=True)
    at_checkpoint = device_states(first)
    feed(crashed, batches[checkpoint_at:crash_at])
    assert device_states(first) != at_checkpoint  # so the replayed journal matters
    assert journal_size(engine, SCOPE) == crash_at - checkpoint_at  # one row per batch
    # The crash: nothing closed, nothing flushed; only what was committed survives.

    restored = HousecallDetector()
    restarted = durable_pipeline(engine, restored)
    assert device_states(restored) == device_states(first)
    after_restart = feed(restarted, batches[crash_at:])

    assert after_restart == after_reference
    assert device_states(restored) == device_states(reference)
    assert cohort_predictions(restored) == cohort_predictions(reference)
    reference_engine.dispose()


def test_close_writes_a_final_checkpoint_and_empties_the_journal(
    engine: Engine, batches: list[list[RawMessage]]
) -> None:
    detector = HousecallDetector()
    pipeline = durable_pipeline(engine, detector)
    feed(pipeline, batches[:3])
    assert journal_size(engine, SCOPE) == 3
    pipeline.close()
    assert journal_size(engine, SCOPE) == 0
    with engine.connect() as connection:
        rows = connection.execute(select(DetectorStateRow.device_id)).scalars().all()
    assert sorted(rows) == sorted(detector.devices)

    again = HousecallDetector()
    durable_pipeline(engine, again)
    assert device_states(again) == device_states(detector)


def test_a_checkpoint_is_taken_when_the_journal_reaches_its_bound(
    engine: Engine, batches: list[list[RawMessage]]
) -> None:
    pipeline = durable_pipeline(engine, HousecallDetector(), max_journal=2 * BATCH)
    feed(pipeline, batches[:5])
    assert pipeline.checkpointer is not None
    pipeline.checkpointer.close()  # waits for the background writer
    with engine.connect() as connection:
        through = connection.execute(select(DetectorShared.through_seq)).scalar()
    assert through == 5


def test_outcomes_are_journaled_and_learned_again_after_a_crash(
    engine: Engine, batches: list[list[RawMessage]]
) -> None:
    detector = HousecallDetector()
    pipeline = durable_pipeline(engine, detector)
    feed(pipeline, batches[:2])
    device_id = min(detector.devices)
    outcome = Outcome(device_id, Fault.DIRTY_FILTER, Fault.CONDENSER_FOULING)
    learned: list[Outcome] = []
    original = HousecallDetector.learn_from_outcome

    def spy(self: HousecallDetector, o: Outcome) -> None:
        learned.append(o)
        original(self, o)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HousecallDetector, "learn_from_outcome", spy)
        pipeline.learn_from_outcome(outcome)
        assert journal_size(engine, SCOPE) == 3
        durable_pipeline(engine, HousecallDetector())  # crash, restart: replays the journal
    assert learned == [outcome, outcome]


def test_a_checkpoint_of_another_detector_version_is_refused_in_one_line(
    engine: Engine, batches: list[list[RawMessage]], caplog: pytest.LogCaptureFixture
) -> None:
    original = HousecallDetector()
    pipeline = durable_pipeline(engine, original)
    feed(pipeline, batches[:2])
    pipeline.close()
    with engine.begin() as connection:
        connection.execute(update(DetectorStateRow).values(version="0ld"))
        connection.execute(update(DetectorShared).values(version="0ld"))

    fresh = HousecallDetector()
    with caplog.at_level(logging.WARNING, logger="gateway.checkpoints.checkpointer"):
        durable_pipeline(engine, fresh)
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2  # one line for the fleet models, one for all the devices
    assert "0ld" in refusals[1]
    assert "re-learn" in refusals[1]
    assert not fresh.cohorts  # the fleet models re-learn
    assert set(fresh.devices) == set(original.devices)  # known devices, from their births
    assert any(fresh.snapshot(d) != original.snapshot(d) for d in fresh.devices)


def test_a_corrupt_row_is_counted_and_only_that_device_relearns(
    engine: Engine, batches: list[list[RawMessage]]
) -> None:
    detector = HousecallDetector()
    pipeline = durable_pipeline(engine, detector)
    feed(pipeline, batches[:2])
    pipeline.close()
    broken = min(detector.devices)
    with engine.begin() as connection:
        connection.execute(
            update(DetectorStateRow)
            .where(DetectorStateRow.device_id == broken)
            .values(state=b"\x01garbage")
        )
    metrics = CheckpointMetrics()
    fresh = HousecallDetector()
    checkpointer = DetectorCheckpointer(engine, fresh, scope=SCOPE, metrics=metrics)
    report = checkpointer.restore()
    assert report.corrupt == 1
    assert report.devices == len(detector.devices) - 1
    assert broken not in fresh.devices
    assert metrics.refused.labels(reason="corrupt")._value.get() == 1
    assert report.shared == "restored"
    # Our own checkpoint's pickles: the epoch the fleet models had reached is restored.
    restored_epoch = pickle.loads(fresh.snapshot_shared())[4]  # noqa: S301
    assert restored_epoch == pickle.loads(detector.snapshot_shared())[4]  # noqa: S301


def test_a_batch_that_never_committed_leaves_no_journal(
    engine: Engine, batches: list[list[RawMessage]]
) -> None:
    """The durable step fails: no journal row, so the redelivered batch is fed once, later."""
    detector = HousecallDetector()
    pipeline = durable_pipeline(engine, detector)
    feed(pipeline, batches[:1])
    pipeline.stop()  # stop retrying, so a failing commit raises

    def failing_commit(*_: object) -> None:
        from gateway.storage import StorageUnavailable

        raise StorageUnavailable("down for the test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline.storage, "commit", failing_commit)
        with pytest.raises(Exception, match="down for the test"):
            pipeline.process(batches[1])
    assert journal_size(engine, SCOPE) == 1


@pytest.mark.timeout(60)
def test_a_sink_that_resolves_an_order_inside_the_batch_teaches_the_detectors(
    engine: Engine, batches: list[list[RawMessage]]
) -> None:
    """The demo's technicians resolve orders from the sink, on the pipeline's thread."""
    detector = HousecallDetector()
    pipeline = durable_pipeline(engine, detector)

    class ResolvingSink:
        def __init__(self) -> None:
            self.taught = 0

        def handle(self, device: object, ts: object, signals: object) -> None:
            if not self.taught:
                outcome = Outcome(min(detector.devices), Fault.DIRTY_FILTER, None)
                pipeline.learn_from_outcome(outcome)
                self.taught += 1

    sink = ResolvingSink()
    pipeline.sink = sink
    feed(pipeline, batches[:2])
    assert sink.taught == 1
    assert journal_size(engine, SCOPE) == 3  # batch, outcome, batch: in the order learned
