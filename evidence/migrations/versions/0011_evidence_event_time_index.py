"""evidence indexed by (event_time, evidence_id): the order GET /v1/evidence pages in

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

An unfiltered page of GET /v1/evidence (ORDER BY event_time, evidence_id LIMIT n, the console's evidence list)
had no index in its order: SQLite scanned the whole table into a temporary B-tree for every page, PostgreSQL
every partition into a top-N sort, and under write load those pages were a tenth of the server's CPU (issue 13).
On PostgreSQL the index made on the partitioned table is made on each partition, present and future.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_evidence_event_time_evidence_id", "evidence", ["event_time", "evidence_id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_event_time_evidence_id", table_name="evidence")
