"""detector shards: the leases several detector processes share work through

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 32  # detectors/_leases.py SHARDS: the rows exist up front, so a pass only ever locks, never inserts


def upgrade() -> None:
    table = op.create_table(
        "detector_shards",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("passed_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_detector_shards")),
    )
    op.bulk_insert(table, [{"shard": n} for n in range(SHARDS)])


def downgrade() -> None:
    op.drop_table("detector_shards")
