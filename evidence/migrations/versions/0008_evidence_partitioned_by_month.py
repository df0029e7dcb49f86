"""evidence partitioned by month on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

On PostgreSQL the evidence table becomes a table partitioned by range of event_time, one partition a month
(evidence_yYYYYmMM, made on demand by writers: evidence/_partitions.py), so that retention drops months instead
of deleting rows and a window's queries read only its months. An existing table is copied into it: the old one
is renamed, the months it holds get their partitions, its rows move in one INSERT ... SELECT, and the indexes are
built after the load. The primary key becomes (evidence_id, event_time), as PostgreSQL requires of a partitioned
table; writers keep evidence_id unique (evidence/_store.py). SQLite keeps its one table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = """
    evidence_id VARCHAR(32) NOT NULL,
    source VARCHAR(512) NOT NULL,
    source_ref VARCHAR(512) NOT NULL,
    type VARCHAR(40) NOT NULL,
    dataset_urn VARCHAR(512),
    producer_urn VARCHAR(512),
    schema_id VARCHAR(128),
    sequence BIGINT,
    event_time TIMESTAMP WITH TIME ZONE NOT NULL,
    ingest_time TIMESTAMP WITH TIME ZONE NOT NULL,
    deploy_ref VARCHAR(512),
    reason_code VARCHAR(40),
    field VARCHAR(512),
    run_id VARCHAR(512),
    traceparent VARCHAR(64),
    payload TEXT NOT NULL
"""

# The detectors' and the RCA's questions (evidence/_schema.py): a dataset's evidence in a window, a producer's
# events of one type, the types of a window, the lag of what arrived lately; by id through the primary key.
_INDEXES = {
    "ix_evidence_dataset_urn_event_time": "dataset_urn, event_time",
    "ix_evidence_producer_urn_type_event_time": "producer_urn, type, event_time",
    "ix_evidence_type_event_time": "type, event_time",
    "ix_evidence_ingest_time": "ingest_time",
}


def _set_aside(name: str) -> bool:
    """Rename the current evidence table (and its primary key) to `name` and drop its indexes, whose names the new
    table takes; False on SQLite, which keeps its one table."""
    if op.get_bind().dialect.name != "postgresql":
        return False
    op.execute(f"ALTER TABLE evidence RENAME TO {name}")
    op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT pk_evidence TO pk_{name}")
    for index in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")
    return True


def _fill_from(name: str, conflict: str = "") -> None:
    op.execute(f"INSERT INTO evidence SELECT * FROM {name} {conflict}")
    op.execute(f"DROP TABLE {name}")
    for index, columns in _INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON evidence ({columns})")


def upgrade() -> None:
    if not _set_aside("evidence_unpartitioned"):
        return
    op.execute(f"CREATE TABLE evidence ({_COLUMNS}, CONSTRAINT pk_evidence PRIMARY KEY (evidence_id, event_time)) "
               "PARTITION BY RANGE (event_time)")
    # One partition per month the old table holds, then the rows, then the indexes (faster after the load).
    op.execute("""
        DO $$
        DECLARE month timestamptz;
        BEGIN
          FOR month IN SELECT DISTINCT date_trunc('month', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                       FROM evidence_unpartitioned LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF evidence FOR VALUES FROM (%L) TO (%L)',
                           to_char(month AT TIME ZONE 'UTC', '"evidence_y"YYYY"m"MM'),
                           month, (month AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
          END LOOP;
        END $$
    """)
    _fill_from("evidence_unpartitioned")


def downgrade() -> None:
    if not _set_aside("evidence_partitioned"):
        return
    op.execute(f"CREATE TABLE evidence ({_COLUMNS}, CONSTRAINT pk_evidence PRIMARY KEY (evidence_id))")
    _fill_from("evidence_partitioned", "ON CONFLICT (evidence_id) DO NOTHING")
