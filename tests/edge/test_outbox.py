"""The outbox on its own: durability settings, budget policy, counters, dead letters."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.outbox import ROW_OVERHEAD_BYTES, Outbox
from tests.edge.edge_helpers import event, telemetry

TOPIC = "appliances/ac-1/telemetry"


def test_wal_and_full_sync_are_on(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", budget_bytes=10_000)
    try:
        assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        box.close()


def test_rows_survive_reopen_in_order_and_leave_only_when_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path, budget_bytes=1_000_000)
    with box.transaction() as tx:
        for seq in range(5):
            tx.add("ac-1", "telemetry", TOPIC, telemetry("ac-1", seq), retain=False)
    box.close()

    box = Outbox(path, budget_bytes=1_000_000)
    rows = box.next_rows(0, 100)
    assert [r.payload for r in rows] == [telemetry("ac-1", s) for s in range(5)]
    assert box.forget([rows[0].id, rows[1].id, 999_999]) == 2
    assert [r.id for r in box.next_rows(0, 100)] == [r.id for r in rows[2:]]
    assert box.next_rows(rows[3].id, 100) == rows[4:]
    assert box.counters()["forwarded"] == 2
    assert box.counters()["accepted.telemetry"] == 5
    box.close()
    assert Outbox(path, budget_bytes=1).counters()["forwarded"] == 2  # counters persist


def test_a_failed_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", budget_bytes=1_000_000)

    def fail_midway() -> None:
        with box.transaction() as tx:
            tx.add("ac-1", "telemetry", TOPIC, telemetry("ac-1", 0), retain=False)
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert box.next_rows(0, 10) == []
    assert box.counters() == {}
    assert box.stats().charged_bytes == 0
    box.close()


def test_budget_drops_oldest_droppable_telemetry_never_events(tmp_path: Path) -> None:
    one = len(telemetry("ac-1", 10)) + len(TOPIC) + ROW_OVERHEAD_BYTES
    box = Outbox(tmp_path / "o.db", budget_bytes=10 * one)
    with box.transaction() as tx:
        tx.add("ac-1", "events", "appliances/ac-1/events", event("ac-1", 0), retain=False)
        for seq in range(10, 40):
            tx.add("ac-1", "telemetry", TOPIC, telemetry("ac-1", seq), retain=False)
    rows = box.next_rows(0, 100)
    channels = [r.channel for r in rows]
    assert channels.count("events") == 1
    kept = [int(r.payload.split(b'"seq":')[1].split(b",")[0]) for r in rows[1:]]
    assert kept == list(range(40 - len(kept), 40))  # the newest telemetry survives
    assert box.stats().charged_bytes <= box.budget_bytes
    dropped = box.counters()["dropped.telemetry_over_budget"]
    assert dropped == 30 - len(kept)
    assert box.counters()["dropped_by_device.ac-1"] == dropped

    # Rows already handed to upstream (id <= droppable_after_id) are not dropped, and
    # events are stored even when nothing else can make room.
    in_flight = rows[-1].id
    with box.transaction(droppable_after_id=in_flight) as tx:
        for seq in range(5):
            tx.add("ac-1", "events", "appliances/ac-1/events", event("ac-1", seq), retain=False)
    assert [r.id for r in box.next_rows(0, 100)][: len(rows)] == [r.id for r in rows]
    assert box.stats().over_budget
    assert box.counters()["dropped.telemetry_over_budget"] == dropped
    box.close()


def test_dead_letters_are_kept_counted_and_evicted_beyond_the_cap(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", budget_bytes=1_000, dead_letter_keep=3)
    with box.transaction() as tx:
        for i in range(5):
            tx.dead_letter(TOPIC, "invalid", f"bad {i}", b"{}")
        tx.dead_letter(TOPIC, "not_json", "nope", b"{nope")
    letters = box.dead_letters()
    assert [d for _, _, d, _ in letters] == ["nope", "bad 4", "bad 3"]
    counters = box.counters()
    assert counters["dead_letters.invalid"] == 5
    assert counters["dead_letters.not_json"] == 1
    assert counters["dead_letters.evicted"] == 3
    box.close()


def test_features_wait_for_the_next_telemetry_and_newer_bursts_win(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", budget_bytes=1_000)
    with box.transaction() as tx:
        tx.put_features("wm-1", {"x_a": 1.0}, "2026-07-14T13:00:00+00:00")
        tx.put_features("wm-1", {"x_a": 2.0}, "2026-07-14T13:00:01+00:00")
    with box.transaction() as tx:
        assert tx.take_features("wm-1") == {"x_a": 2.0}
        assert tx.take_features("wm-1") is None
    assert box.counters() == {
        "features.bursts": 2,
        "features.superseded": 1,
        "features.attached": 1,
    }
    box.close()


def test_uncommitted_rows_are_invisible_to_other_readers(tmp_path: Path) -> None:
    """What the agent acknowledges to the home broker is what another reader can see."""
    path = tmp_path / "o.db"
    box = Outbox(path, budget_bytes=1_000_000)
    reader = sqlite3.connect(path)
    with box.transaction() as tx:
        tx.add("ac-1", "telemetry", TOPIC, telemetry("ac-1", 0), retain=False)
        assert reader.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert reader.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    reader.close()
    box.close()
