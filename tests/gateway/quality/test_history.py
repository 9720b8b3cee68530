"""The per-device hash chain on a real database: tampering is found at the right link, and
concurrent writers never fork a chain."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import sessionmaker

from gateway.quality import history
from gateway.quality.tables import HistoryRecordRow
from tests.gateway.quality.helpers import T0, WALL0


def build_chain(engine: Engine, device_id: str, length: int) -> None:
    sessions = sessionmaker(engine)
    for i in range(length):
        with sessions.begin() as session:
            history.append(
                session,
                device_id=device_id,
                order_id="wo_1",
                event="visited" if i else "opened",
                actor="technician:t1",
                at=WALL0 + timedelta(minutes=i, microseconds=123),
                device_at=T0 + timedelta(hours=i),
                payload={"i": i, "evidence": [{"signal": "superheat_k", "observed": 11.8}]},
            )


def verify(engine: Engine, device_id: str) -> history.ChainReport:
    with sessionmaker(engine)() as session:
        return history.verify_chain(session, device_id)


def test_an_untouched_chain_verifies(engine: Engine) -> None:
    build_chain(engine, "ac-1", 6)
    build_chain(engine, "ac-2", 2)  # chains are per device
    report = verify(engine, "ac-1")
    assert report.ok
    assert report.records == 6
    assert verify(engine, "ac-2").records == 2
    assert verify(engine, "ac-unknown").ok  # no history, nothing broken


def test_a_changed_record_breaks_the_chain_at_that_link(engine: Engine) -> None:
    build_chain(engine, "ac-1", 6)
    with sessionmaker(engine).begin() as session:
        session.execute(
            update(HistoryRecordRow)
            .where(HistoryRecordRow.device_id == "ac-1", HistoryRecordRow.position == 3)
            .values(payload={"i": 3, "evidence": [{"signal": "superheat_k", "observed": 5.0}]})
        )
    report = verify(engine, "ac-1")
    assert not report.ok
    assert report.broken_at == 3
    assert "content does not match its hash" in (report.reason or "")


def test_a_forger_who_rehashes_the_record_is_caught_at_the_next_link(engine: Engine) -> None:
    build_chain(engine, "ac-1", 6)
    with sessionmaker(engine).begin() as session:
        row = session.scalars(
            select(HistoryRecordRow).where(
                HistoryRecordRow.device_id == "ac-1", HistoryRecordRow.position == 2
            )
        ).one()
        row.actor = "technician:someone-else"
        row.hash = history.record_hash(history.document(row))
    report = verify(engine, "ac-1")
    assert report.broken_at == 3
    assert "previous-hash does not match record 2" in (report.reason or "")


def test_removed_records_are_found_in_the_middle_and_at_the_end(engine: Engine) -> None:
    build_chain(engine, "ac-1", 6)
    build_chain(engine, "ac-2", 6)
    with sessionmaker(engine).begin() as session:
        session.execute(
            delete(HistoryRecordRow).where(
                HistoryRecordRow.device_id == "ac-1", HistoryRecordRow.position == 4
            )
        )
        session.execute(
            delete(HistoryRecordRow).where(
                HistoryRecordRow.device_id == "ac-2", HistoryRecordRow.position == 5
            )
        )
    middle = verify(engine, "ac-1")
    assert middle.broken_at == 4
    assert "a record is missing" in (middle.reason or "")
    end = verify(engine, "ac-2")
    assert end.broken_at == 5
    assert "removed from its end" in (end.reason or "")


def test_concurrent_writers_for_one_device_never_fork_its_chain(engine: Engine) -> None:
    writers, each = 4, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(worker: int) -> None:
        sessions = sessionmaker(engine)
        try:
            start.wait()
            for i in range(each):
                with sessions.begin() as session:
                    history.append(
                        session,
                        device_id="ac-hot",
                        event="visited",
                        actor=f"worker-{worker}",
                        at=WALL0,
                        payload={"worker": worker, "i": i},
                    )
        except BaseException as err:  # report in the main thread
            errors.append(err)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    report = verify(engine, "ac-hot")
    assert report.ok, report
    assert report.records == writers * each
    with sessionmaker(engine)() as session:
        positions = list(
            session.scalars(
                select(HistoryRecordRow.position).where(HistoryRecordRow.device_id == "ac-hot")
            )
        )
    assert sorted(positions) == list(range(writers * each))
