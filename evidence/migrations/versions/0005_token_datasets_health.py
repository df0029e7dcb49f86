"""token dataset scopes, a health-check row, resolution rules keyed by what they claim and where they send it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

"""

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _mapping_key(spec: dict[str, Any]) -> str:
    # evidence/_configs.py ConfigKind.key for a Mapping, as of this revision.
    identity = [spec.get("topic"), spec.get("schema_id"), sorted((spec.get("headers") or {}).items()),
                spec.get("dataset_urn"), spec.get("producer_urn")]
    return hashlib.sha256(orjson.dumps(identity)).hexdigest()


def upgrade() -> None:
    """Upgrade schema."""

    # Tokens made before dataset scopes keep speaking for every dataset (as they did); re-create writers with
    # --dataset to fence them.
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("datasets", sa.Text(), nullable=False, server_default='["*"]'))
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.alter_column("datasets", server_default=None)
    op.create_table(
        "service_health",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_health")),
    )
    conn = op.get_bind()
    configs = sa.table("configs", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                       sa.column("key", sa.String), sa.column("spec", sa.Text))
    for row in conn.execute(sa.select(configs.c.id, configs.c.spec).where(configs.c.kind == "mapping")).all():
        try:
            spec = orjson.loads(row.spec)
        except orjson.JSONDecodeError:
            continue  # left as it is: loading reports it as a finding
        conn.execute(configs.update().where(configs.c.id == row.id).values(key=_mapping_key(spec)))


def downgrade() -> None:
    """Downgrade schema."""

    conn = op.get_bind()
    configs = sa.table("configs", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                       sa.column("key", sa.String), sa.column("spec", sa.Text))
    seen: set[str] = set()
    rows = conn.execute(sa.select(configs.c.id, configs.c.spec).where(configs.c.kind == "mapping")
                        .order_by(configs.c.id)).all()
    for row in rows:
        spec = orjson.loads(row.spec)
        identity = [spec.get("topic"), spec.get("schema_id"), sorted((spec.get("headers") or {}).items())]
        key = hashlib.sha256(orjson.dumps(identity)).hexdigest()
        # The older schema holds one rule per claim: a second, overlapping rule keeps a key of its own.
        conn.execute(configs.update().where(configs.c.id == row.id).values(
            key=key if key not in seen else f"{key}:{row.id}"))
        seen.add(key)
    op.drop_table("service_health")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("datasets")
