"""rollout pull requests

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "rollout_pull_requests",
        sa.Column("forge", sa.String(length=16), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("base", sa.String(length=255), nullable=False),
        sa.Column("archetype", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("head_sha", sa.String(length=64), nullable=False),
        sa.Column("sdk_version", sa.String(length=64), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("forge", "repo", "number", name=op.f("pk_rollout_pull_requests")),
    )
    with op.batch_alter_table("rollout_pull_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_pull_requests_forge_repo_branch"), ["forge", "repo", "branch"],
                              unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("rollout_pull_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_pull_requests_forge_repo_branch"))
    op.drop_table("rollout_pull_requests")
