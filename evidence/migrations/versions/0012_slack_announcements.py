"""announcements: the Slack outbox, one row per incident to announce

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

A new incident was posted to Slack after its pass committed, at most once: a Slack outage or a process that died
between the commit and the post lost the announcement for good (issue 23). The pass now writes a row here in the
transaction that opens the incident, and delivery marks it sent. Incidents stored before this revision have no
row: they count as announced, so an upgrade posts no backlog.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_announcements")),
    )
    op.create_index("ix_announcements_state_next_attempt_at", "announcements", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_announcements_state_next_attempt_at", table_name="announcements")
    op.drop_table("announcements")
