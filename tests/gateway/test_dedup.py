"""De-duplication: bounded window, gaps, late arrivals, stale seqs, resets, undo, persistence."""

from __future__ import annotations

import pytest

from gateway.db import create_schema, make_engine
from gateway.dedup import SeqTracker, Verdict


def verdicts(tracker: SeqTracker, seqs: list[int], device: str = "ac-1") -> list[str]:
    return [tracker.check(device, "t", seq).verdict.value for seq in seqs]


def test_each_seq_is_new_once_even_out_of_order() -> None:
    tracker = SeqTracker(window=64)
    assert verdicts(tracker, [10, 12, 11, 12, 10, 13, 11]) == [
        "new",
        "new",
        "new",
        "duplicate",
        "duplicate",
        "new",
        "duplicate",
    ]


def test_streams_and_devices_are_counted_separately() -> None:
    tracker = SeqTracker(window=64)
    assert tracker.check("ac-1", "t", 5).verdict is Verdict.NEW
    assert tracker.check("ac-1", "e", 5).verdict is Verdict.NEW
    assert tracker.check("ac-2", "t", 5).verdict is Verdict.NEW
    assert tracker.check("ac-1", "t", 5).verdict is Verdict.DUPLICATE


def test_gaps_are_counted_and_late_fills_give_them_back() -> None:
    tracker = SeqTracker(window=64)
    tracker.check("ac-1", "t", 0)
    assert tracker.check("ac-1", "t", 5).gaps == 4
    assert tracker.check("ac-1", "t", 3).gaps == -1


def test_older_than_the_window_is_stale_unless_a_birth_announced_a_reset() -> None:
    tracker = SeqTracker(window=16)
    tracker.check("ac-1", "t", 1000)
    assert tracker.check("ac-1", "t", 900).verdict is Verdict.STALE
    tracker.allow_reset("ac-1")
    check = tracker.check("ac-1", "t", 0)
    assert check.verdict is Verdict.NEW
    assert check.reset
    assert tracker.check("ac-1", "t", 1).verdict is Verdict.NEW
    assert tracker.check("ac-1", "t", 0).verdict is Verdict.DUPLICATE


def test_a_jump_beyond_the_window_forgets_the_old_bits() -> None:
    tracker = SeqTracker(window=16)
    assert verdicts(tracker, [1, 2, 100, 99, 100]) == ["new", "new", "new", "new", "duplicate"]


def test_rollback_restores_the_marks_before_the_batch() -> None:
    tracker = SeqTracker(window=64)
    tracker.begin()
    tracker.check("ac-1", "t", 1)
    tracker.begin()
    tracker.check("ac-1", "t", 2)
    tracker.check("ac-2", "t", 7)
    tracker.rollback()
    assert verdicts(tracker, [2, 1]) == ["new", "duplicate"]
    assert tracker.check("ac-2", "t", 7).verdict is Verdict.NEW


def test_window_must_be_whole_bytes() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        SeqTracker(window=10)


def test_marks_survive_a_round_trip_through_sql(database_url: str) -> None:
    from sqlalchemy import insert

    from gateway.dedup import DedupMark
    from gateway.storage import BatchStorage

    engine = make_engine(database_url)
    create_schema(engine)
    tracker = SeqTracker(window=64)
    tracker.begin()
    for seq in (3, 5, 9):
        tracker.check("ac-1", "t", seq)
    with engine.begin() as connection:
        connection.execute(insert(DedupMark), tracker.dirty_rows())
    restored = SeqTracker(window=64)
    restored.load(BatchStorage(engine, gateway_id="gw").mark_rows())
    assert verdicts(restored, [3, 5, 9, 4, 10]) == ["duplicate"] * 3 + ["new", "new"]
    engine.dispose()
