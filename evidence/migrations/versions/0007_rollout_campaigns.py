"""rollout campaigns, tracking issues, PR reviewers and assignees

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "rollout_campaigns",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollout_campaigns")),
    )
    op.create_table(
        "rollout_issues",
        sa.Column("forge", sa.String(length=16), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("forge", "repo", "number", name=op.f("pk_rollout_issues")),
    )
    with op.batch_alter_table("rollout_pull_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewers", sa.Text(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("assignees", sa.Text(), server_default="[]", nullable=False))


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("rollout_pull_requests", schema=None) as batch_op:
        batch_op.drop_column("assignees")
        batch_op.drop_column("reviewers")
    op.drop_table("rollout_issues")
    op.drop_table("rollout_campaigns")
