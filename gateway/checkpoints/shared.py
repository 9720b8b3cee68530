"""The fleet-level models of a checkpoint, read and written outside a running gateway.

``housecall baseline export`` reads them; ``housecall baseline import`` writes them back
with the imported cohorts merged in, leaving ``through_seq`` (where the journal replay
starts) and every device's row as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from detectors.fleet import HousecallDetector
from gateway.checkpoints.checkpointer import state_version
from gateway.checkpoints.tables import DetectorShared
from gateway.db import create_schema, upsert


def load_shared(engine: Engine, scope: str, detector: HousecallDetector) -> bool:
    """Load the scope's checkpointed models into ``detector``; False if there are none.

    A checkpoint of another detector version raises ``ValueError`` (one line).
    """
    create_schema(engine)
    with engine.connect() as connection:
        row = connection.execute(
            select(DetectorShared.version, DetectorShared.state).where(
                DetectorShared.scope == scope
            )
        ).first()
    if row is None or row.state is None:
        return False
    if row.version != state_version(detector):
        raise ValueError(
            f"the checkpoint of {scope} is of detector version {row.version}, "
            f"this one is {state_version(detector)}"
        )
    detector.restore_shared(row.state)
    return True


def save_shared(engine: Engine, scope: str, detector: HousecallDetector) -> None:
    """Write ``detector``'s models as the scope's, keeping where its journal replay starts."""
    with engine.begin() as connection:
        through = connection.execute(
            select(DetectorShared.through_seq).where(DetectorShared.scope == scope)
        ).scalar()
        upsert(
            connection,
            DetectorShared.__table__,
            ("scope",),
            [
                {
                    "scope": scope,
                    "version": state_version(detector),
                    "state": detector.snapshot_shared(),
                    "through_seq": int(through or 0),
                    "updated_wall_at": datetime.now(UTC),
                }
            ],
        )
