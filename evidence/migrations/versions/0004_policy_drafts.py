"""policy drafts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "policy_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dataset_urn", sa.String(length=512), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_drafts")),
    )
    with op.batch_alter_table("policy_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_drafts_dataset_urn_kind"), ["dataset_urn", "kind"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("policy_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_drafts_dataset_urn_kind"))
    op.drop_table("policy_drafts")
