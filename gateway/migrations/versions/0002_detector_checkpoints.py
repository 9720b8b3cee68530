"""detector checkpoints: device states, fleet models, the journal since the checkpoint

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:18:34.415279
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "detector_journal",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "seq", name=op.f("pk_detector_journal")),
    )
    op.create_table(
        "detector_shared",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=True),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_wall_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_detector_shared")),
    )
    op.create_table(
        "detector_states",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_wall_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "device_id", name=op.f("pk_detector_states")),
    )


def downgrade() -> None:
    op.drop_table("detector_states")
    op.drop_table("detector_shared")
    op.drop_table("detector_journal")
