"""The tamper-evident service history: one SHA-256 hash chain per device.

Every work-order event (opened with its evidence, assigned, accepted, scheduled,
visited, resolved with the parts used, verified, reopened, billed, rated...) is a
record whose hash covers its canonical JSON content AND the previous record's hash.
Changing, deleting or reordering any record breaks the chain at that link, and
:func:`verify_chain` names the first broken one.

Canonical JSON: keys sorted, no spaces, UTF-8, no NaN; times as RFC 3339 UTC with
microseconds. The record's hash is ``sha256(canonical(document))`` where the document
holds every stored field and ``prev`` (64 zeros for the first record).

Concurrency: appends for one device serialise on its head row. ``UPDATE ... SET
position = position + 1 ... RETURNING`` takes PostgreSQL's row lock (SQLite: the write
lock) and hands back the head as the previous writer committed it, so two workers can
never link to the same predecessor; the unique ``(device_id, position)`` constraint
would refuse a fork even if they did. The append runs in the caller's transaction: the
history record exists exactly when the change it records does.

>>> canonical({"b": 1.5, "a": ["é", None]})
'{"a":["é",null],"b":1.5}'
>>> record_hash({"prev": GENESIS, "event": "opened"})[:12]
'bf8130715f38'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.quality.tables import HistoryHeadRow, HistoryRecordRow
from gateway.workorders.ids import aware, maybe_aware

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document).encode("utf-8")).hexdigest()


def _time(value: datetime | None) -> str | None:
    value = maybe_aware(value)
    return None if value is None else value.isoformat(timespec="microseconds")


def document(row: HistoryRecordRow) -> dict[str, Any]:
    """What the hash covers: every stored field of the record, and the previous hash."""
    return {
        "v": 1,
        "device_id": row.device_id,
        "position": row.position,
        "order_id": row.order_id,
        "event": row.event,
        "actor": row.actor,
        "at": _time(row.recorded_wall_at),
        "device_at": _time(row.device_at),
        "payload": row.payload,
        "prev": row.prev_hash,
    }


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data (dates as ISO strings), exactly as it will be stored."""
    return json.loads(json.dumps(value, default=_default, allow_nan=False))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _time(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def append(
    session: Session,
    *,
    device_id: str,
    event: str,
    actor: str,
    at: datetime,
    payload: dict[str, Any],
    order_id: str | None = None,
    device_at: datetime | None = None,
) -> HistoryRecordRow:
    """Add one record to ``device_id``'s chain inside the caller's transaction."""
    position, prev = _advance_head(session, device_id)
    # what the database will hand back: microsecond UTC times, JSON-native payload
    row = HistoryRecordRow(
        device_id=device_id,
        position=position,
        order_id=order_id,
        event=event,
        actor=actor,
        recorded_wall_at=aware(at),
        device_at=maybe_aware(device_at),
        payload=json_safe(payload),
        prev_hash=prev,
        hash="",
    )
    row.hash = record_hash(document(row))
    session.add(row)
    session.execute(
        update(HistoryHeadRow)
        .where(HistoryHeadRow.device_id == device_id)
        .values(hash=row.hash)
        .execution_options(synchronize_session=False)
    )
    return row


def _advance_head(session: Session, device_id: str) -> tuple[int, str]:
    """Lock the device's head, move it one on; returns (new position, previous hash)."""
    bump = (
        update(HistoryHeadRow)
        .where(HistoryHeadRow.device_id == device_id)
        .values(position=HistoryHeadRow.position + 1)
        .returning(HistoryHeadRow.position, HistoryHeadRow.hash)
        .execution_options(synchronize_session=False)
    )
    for _ in range(5):
        found = session.execute(bump).first()
        if found is not None:
            return int(found[0]), str(found[1])
        try:
            with session.begin_nested():  # the first record: create the head (may race)
                session.add(HistoryHeadRow(device_id=device_id, position=-1, hash=GENESIS))
        except IntegrityError:
            continue  # another worker created it first: lock theirs
    raise RuntimeError(f"could not lock the history head of {device_id}")


@dataclass(frozen=True)
class ChainReport:
    device_id: str
    records: int
    ok: bool
    #: position of the first broken link (None when the chain holds)
    broken_at: int | None = None
    record_id: int | None = None
    reason: str | None = None
    head_hash: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def records(session: Session, device_id: str) -> list[HistoryRecordRow]:
    return list(
        session.scalars(
            select(HistoryRecordRow)
            .where(HistoryRecordRow.device_id == device_id)
            .order_by(HistoryRecordRow.position, HistoryRecordRow.id)
        )
    )


def verify_chain(session: Session, device_id: str) -> ChainReport:
    """Walk ``device_id``'s chain from the first record; report the first broken link."""
    rows = records(session, device_id)
    head = session.get(HistoryHeadRow, device_id)
    prev = GENESIS
    for expected, row in enumerate(rows):
        broken: str | None = None
        if row.position != expected:
            broken = (
                f"record at position {row.position} where {expected} was expected: "
                f"{'a record is missing' if row.position > expected else 'duplicated position'}"
            )
        elif row.prev_hash != prev:
            broken = f"its previous-hash does not match record {expected - 1}'s hash"
        elif record_hash(document(row)) != row.hash:
            broken = "its content does not match its hash: the record was changed"
        if broken is not None:
            return ChainReport(device_id, len(rows), False, expected, row.id, broken, prev)
        prev = row.hash
    if head is not None and (head.position != len(rows) - 1 or head.hash != prev):
        return ChainReport(
            device_id,
            len(rows),
            False,
            len(rows),
            None,
            f"the head says {head.position + 1} records ending in {head.hash[:12]}..., "
            f"the chain has {len(rows)}: records were removed from its end",
            prev,
        )
    return ChainReport(device_id, len(rows), True, head_hash=prev)


def record_json(row: HistoryRecordRow) -> dict[str, Any]:
    return {**document(row), "id": row.id, "hash": row.hash}
