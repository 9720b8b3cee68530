"""The SQL rows that hold learned detector state and the journal since the last checkpoint.

``scope`` names whose state it is: the gateway's client id for a single process (later a
partition, when a partition's devices move between processes as one unit).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base


class DetectorStateRow(Base):
    """One device's detector state as of its scope's checkpoint (``DetectorShared.through_seq``)."""

    __tablename__ = "detector_states"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    updated_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DetectorShared(Base):
    """The scope's fleet-level models (cohorts, diagnosis) and how far its checkpoint reaches.

    ``through_seq`` lives in a column of its own, outside the state blob, so a corrupt blob
    still says where the journal to replay begins.
    """

    __tablename__ = "detector_shared"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    state: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    through_seq: Mapped[int] = mapped_column(BigInteger)
    updated_wall_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DetectorJournal(Base):
    """What the detectors were fed since the checkpoint: one row per batch or outcome.

    Written in the batch's own transaction, so a stored (and acknowledged) message is
    always either inside the checkpoint or in this journal, never in neither.
    """

    __tablename__ = "detector_journal"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)
    entries: Mapped[bytes] = mapped_column(LargeBinary)
