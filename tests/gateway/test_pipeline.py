"""The pipeline in-process (no broker): dead letters, de-duplication, registry, sink, retries.

Runs on SQLite and on a real PostgreSQL, with the embedded telemetry store, so
what "stored" means is read back from the SQL tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select

from detectors.api import Finding, NullDetector, Signal
from edge.contract import Fault, Kind, Severity, Telemetry
from gateway.db import make_engine
from gateway.deadletters import DeadLetter
from gateway.device_table import Device
from gateway.pipeline import DeviceInfo, Pipeline, RawMessage
from gateway.storage import BatchStorage, BatchWrite, StorageUnavailable
from gateway.timeseries.embedded import StoredSample
from tests.gateway.helpers import birth, cycle_end, raw, telemetry


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def new_pipeline(engine: Engine, **options: Any) -> Pipeline:
    pipeline = Pipeline(BatchStorage(engine, gateway_id="gw-test"), **options)
    pipeline.open()
    return pipeline


def stored_seqs(engine: Engine, device_id: str, stream: str = "telemetry") -> list[int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(StoredSample.seq)
            .where(StoredSample.device_id == device_id, StoredSample.stream == stream)
            .order_by(StoredSample.seq)
        )
        return [int(seq) for (seq,) in rows]


def dead_letters(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        query = select(DeadLetter.__table__).order_by(DeadLetter.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def valid_body(device_id: str, seq: int) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(telemetry(device_id, seq)[1])
    return result


BAD_INPUTS: list[tuple[str, str, bytes]] = [
    ("oversize", "appliances/ac-1/telemetry", b'{"schema": "' + b"x" * 70_000 + b'"}'),
    ("not_json", "appliances/ac-1/telemetry", b'{"schema": "housecall.telemetry/1", '),
    ("not_utf8", "appliances/ac-1/telemetry", b'{"device_id": "\xff\xfe"}'),
    (
        "unknown_schema",
        "appliances/ac-1/telemetry",
        orjson.dumps({**valid_body("ac-1", 900), "schema": "housecall.telemetry/2"}),
    ),
    (
        "invalid",  # wrong type
        "appliances/ac-1/telemetry",
        orjson.dumps({**valid_body("ac-1", 901), "readings": {"setpoint_c": "hot"}}),
    ),
    (
        "invalid",  # unknown enum value
        "appliances/ac-1/telemetry",
        orjson.dumps({**valid_body("ac-1", 902), "readings": {"mode": "turbo"}}),
    ),
    (
        "non_finite",
        "appliances/ac-1/telemetry",
        telemetry("ac-1", 903)[1].replace(b'"setpoint_c":24.0', b'"setpoint_c":NaN'),
    ),
    ("device_mismatch", "appliances/ac-2/telemetry", telemetry("ac-1", 904)[1]),
    ("bad_topic", "appliances/ac-1/diagnostics", telemetry("ac-1", 905)[1]),
]


def test_every_bad_input_kind_is_dead_lettered_and_the_valid_ones_around_it_stored(
    engine: Engine,
) -> None:
    pipeline = new_pipeline(engine)
    batch: list[RawMessage] = []
    for index, (_, topic, payload) in enumerate(BAD_INPUTS):
        batch.append(raw(telemetry("ac-1", index)))
        batch.append(RawMessage(topic, payload, arrived_wall=1_700_000_000.0 + index))
    batch.append(raw(telemetry("ac-1", len(BAD_INPUTS))))
    result = pipeline.process(batch)

    assert stored_seqs(engine, "ac-1") == list(range(len(BAD_INPUTS) + 1))
    letters = dead_letters(engine)
    assert [row["reason"] for row in letters] == [reason for reason, _, _ in BAD_INPUTS]
    assert sum(result.dead_letters.values()) == len(BAD_INPUTS)
    for row, (_, topic, payload) in zip(letters, BAD_INPUTS, strict=True):
        assert row["topic"] == topic
        assert row["detail"]
        assert row["payload_size"] == len(payload)
        assert row["payload"] == payload[:1024]
        assert row["arrived_at"] is not None
    oversize = letters[0]
    assert oversize["payload_truncated"]
    assert len(oversize["payload"]) == 1024
    assert len(oversize["payload_sha256"]) == 64
    metric = pipeline.metrics.dead_letters.labels(reason="invalid")._value.get()
    assert metric == 2


def test_nan_in_a_reading_never_reaches_storage(engine: Engine) -> None:
    pipeline = new_pipeline(engine)
    payload = orjson.dumps(valid_body("ac-1", 1)).replace(b"24.0", b"Infinity")
    result = pipeline.process([RawMessage("appliances/ac-1/telemetry", payload)])
    assert result.dead_letters == {"non_finite": 1}
    assert stored_seqs(engine, "ac-1") == []
    assert not any(math.isinf(v) for v in [result.telemetry])


def test_redelivered_and_replayed_duplicates_are_not_stored_twice_even_after_restart(
    engine: Engine,
) -> None:
    first = new_pipeline(engine)
    first.process([raw(telemetry("ac-1", seq)) for seq in range(10)])
    again = first.process([raw(telemetry("ac-1", seq)) for seq in (3, 4, 10)])
    assert (again.duplicates, again.telemetry) == (2, 1)

    restarted = new_pipeline(engine)  # a new process: marks come from the SQL store
    replayed = []
    for seq in range(12):
        body = valid_body("ac-1", seq)
        body["replay"] = True
        replayed.append(RawMessage("appliances/ac-1/telemetry", orjson.dumps(body)))
    result = restarted.process(replayed)
    assert (result.duplicates, result.telemetry) == (11, 1)
    assert stored_seqs(engine, "ac-1") == list(range(12))


def test_events_are_de_duplicated_separately_from_telemetry(engine: Engine) -> None:
    pipeline = new_pipeline(engine)
    result = pipeline.process(
        [
            raw(birth("wm-1", kind="washer", model="WM 9")),
            raw(telemetry("wm-1", 1)),
            *(raw(cycle_end("wm-1", seq)) for seq in (1, 1, 2)),
        ]
    )
    assert (result.telemetry, result.events, result.duplicates) == (1, 2, 1)
    assert stored_seqs(engine, "wm-1", "event") == [1, 2]


def test_registry_follows_birth_status_and_counts_gaps(engine: Engine) -> None:
    pipeline = new_pipeline(engine)
    pipeline.process(
        [
            raw(birth("ac-7", model="AUR-S35-INV")),
            RawMessage("appliances/ac-7/status", b"online"),
            raw(telemetry("ac-7", 0)),
            raw(telemetry("ac-7", 1)),
            raw(telemetry("ac-7", 5)),  # 2, 3, 4 lost upstream
            raw(telemetry("ac-7", 5)),
        ]
    )
    pipeline.process([raw(telemetry("ac-7", 3)), RawMessage("appliances/ac-7/status", b"offline")])
    with engine.connect() as connection:
        device = connection.execute(select(Device.__table__)).mappings().one()
    assert device["kind"] == "ac"
    assert device["brand"] == "Aurora"
    assert device["model"] == "AUR-S35-INV"
    assert device["refrigerant"] == "R32"
    assert device["region"] == "CN-32"
    assert str(device["warranty_until"]) == "2027-05-02"
    assert device["online"] is False
    assert device["telemetry_messages"] == 4
    assert device["duplicates"] == 1
    assert device["seq_gaps"] == 2  # 3 arrived late
    last_seen = Telemetry.model_validate_json(telemetry("ac-7", 5)[1]).ts
    assert device["last_seen_at"].replace(tzinfo=None) == last_seen.replace(tzinfo=None)
    assert pipeline.metrics.seq_gaps._value.get() == 3
    assert pipeline.metrics.late_fills._value.get() == 1


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[DeviceInfo, datetime, tuple[Signal, ...]]] = []

    def handle(self, device: DeviceInfo, ts: datetime, signals: Sequence[Signal]) -> None:
        self.calls.append((device, ts, tuple(signals)))


class LeakOnSeq3(NullDetector):
    def __init__(self) -> None:
        self.births: list[str] = []

    def on_birth(self, birth: Any) -> None:
        self.births.append(birth.device_id)

    def on_telemetry(self, telemetry: Telemetry) -> Sequence[Signal]:
        if telemetry.seq == 3:
            return [
                Finding(
                    telemetry.device_id,
                    Kind.AC,
                    Fault.REFRIGERANT_LEAK,
                    0.9,
                    Severity.HIGH,
                    telemetry.ts,
                )
            ]
        if telemetry.seq == 4:
            raise RuntimeError("detector bug")
        return ()


def test_sink_sees_every_accepted_message_in_device_time_with_the_detector_signals(
    engine: Engine,
) -> None:
    sink = RecordingSink()
    detector = LeakOnSeq3()
    pipeline = new_pipeline(engine, sink=sink, detector=detector)
    result = pipeline.process(
        [raw(birth("ac-1"))]
        + [raw(telemetry("ac-1", seq)) for seq in range(6)]
        + [raw(telemetry("ac-1", 2)), RawMessage("appliances/ac-1/telemetry", b"nope")]
    )
    assert detector.births == ["ac-1"]
    assert [call[1] for call in sink.calls] == [
        Telemetry.model_validate_json(telemetry("ac-1", seq)[1]).ts for seq in range(6)
    ]
    assert all(call[0].model == "AUR-S35-INV" for call in sink.calls)
    assert [len(call[2]) for call in sink.calls] == [0, 0, 0, 1, 0, 0]
    assert [type(s).__name__ for s in result.signals] == ["Finding"]
    assert pipeline.metrics.detector_errors._value.get() == 1  # seq 4: stored anyway
    assert stored_seqs(engine, "ac-1") == list(range(6))


class FlakyStorage(BatchStorage):
    """Fails the first ``failures`` commits as an unreachable SQL store would."""

    def __init__(self, engine: Engine, failures: int) -> None:
        super().__init__(engine, gateway_id="gw-test")
        self.failures = failures

    def commit(self, write: BatchWrite) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("SQL store: connection refused")
        super().commit(write)


def test_a_failed_commit_is_retried_and_stores_the_batch_once(engine: Engine) -> None:
    storage = FlakyStorage(engine, failures=2)
    pipeline = Pipeline(storage)
    pipeline.open()
    result = pipeline.process([raw(telemetry("ac-1", seq)) for seq in range(3)])
    assert result.telemetry == 3
    assert pipeline.metrics.storage_retries._value.get() == 2
    assert stored_seqs(engine, "ac-1") == [0, 1, 2]


def test_giving_up_on_a_batch_keeps_nothing_so_it_can_come_again(engine: Engine) -> None:
    storage = FlakyStorage(engine, failures=1)
    pipeline = Pipeline(storage)
    pipeline.open()
    pipeline.stop()
    batch = [raw(birth("ac-1")), *(raw(telemetry("ac-1", seq)) for seq in range(3))]
    with pytest.raises(StorageUnavailable):
        pipeline.process(batch)
    assert stored_seqs(engine, "ac-1") == []
    assert pipeline.registry.info("ac-1") is None
    result = pipeline.process(batch)  # redelivered by the broker: stored, not "duplicate"
    assert (result.telemetry, result.duplicates) == (3, 0)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Device)).scalar() == 1
