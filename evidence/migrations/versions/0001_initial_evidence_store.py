"""initial evidence store

Revision ID: 0001
Revises:
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "configs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configs")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_configs_kind_key")),
    )
    op.create_table(
        "controls",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("domain", sa.String(length=128), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("killed", sa.Boolean(), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name", name=op.f("pk_controls")),
    )
    op.create_table(
        "evidence",
        sa.Column("evidence_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("source_ref", sa.String(length=512), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("dataset_urn", sa.String(length=512), nullable=True),
        sa.Column("producer_urn", sa.String(length=512), nullable=True),
        sa.Column("schema_id", sa.String(length=128), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingest_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deploy_ref", sa.String(length=512), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("field", sa.String(length=512), nullable=True),
        sa.Column("run_id", sa.String(length=512), nullable=True),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_dataset_urn_event_time"), ["dataset_urn", "event_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_ingest_time"), ["ingest_time"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evidence_producer_urn_type_event_time"), ["producer_urn", "type", "event_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_type_event_time"), ["type", "event_time"], unique=False)

    op.create_table(
        "gate_counters",
        sa.Column("dataset_urn", sa.String(length=512), nullable=False),
        sa.Column("producer_urn", sa.String(length=512), nullable=False),
        sa.Column("schema_id", sa.String(length=128), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=512), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_ref", sa.String(length=512), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ref", sa.String(length=512), nullable=False),
        sa.Column("samples", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dataset_urn", "producer_urn", "schema_id", "reason_code", "field", "bucket", name=op.f("pk_gate_counters")
        ),
    )
    with op.batch_alter_table("gate_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gate_counters_dataset_urn_bucket"), ["dataset_urn", "bucket"], unique=False
        )

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("producers", sa.Text(), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_tokens_secret_sha256")),
    )


def downgrade() -> None:
    """Downgrade schema."""

    op.drop_table("tokens")
    with op.batch_alter_table("gate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_counters_dataset_urn_bucket"))

    op.drop_table("gate_counters")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_type_event_time"))
        batch_op.drop_index(batch_op.f("ix_evidence_producer_urn_type_event_time"))
        batch_op.drop_index(batch_op.f("ix_evidence_ingest_time"))
        batch_op.drop_index(batch_op.f("ix_evidence_dataset_urn_event_time"))

    op.drop_table("evidence")
    op.drop_table("controls")
    op.drop_table("configs")
