"""config version: one number every write to `configs` changes, so a detector pass asks one row, not every config

Revision ID: 0013
Revises: 0012 (the Slack announcements table)
Create Date: 2026-12-01

A detector process keeps the active configuration it derived (detectors/_incremental.py) and used to learn whether
the stored configs changed by reading all of them (10,000 policies: a tenth of a pass that evaluates 100 datasets).
Triggers raise `config_version.version` on every insert, update and delete of `configs` (statements of this
version, older ones, a hand edit alike), in the writer's transaction. The number starts at a random value, so a
database made again from nothing does not repeat the numbers an older one had.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPERATIONS = ("insert", "update", "delete")


def upgrade() -> None:
    table = op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": secrets.randbits(48)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION config_version_raise() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN UPDATE config_version SET version = version + 1; RETURN NULL; END $$")
        op.execute("CREATE TRIGGER config_version_raise AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON configs "
                   "FOR EACH STATEMENT EXECUTE FUNCTION config_version_raise()")
    else:  # SQLite: row triggers only
        for operation in _OPERATIONS:
            op.execute(f"CREATE TRIGGER config_version_{operation} AFTER {operation.upper()} ON configs "
                       "BEGIN UPDATE config_version SET version = version + 1; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER config_version_raise ON configs")
        op.execute("DROP FUNCTION config_version_raise()")
    else:
        for operation in _OPERATIONS:
            op.execute(f"DROP TRIGGER config_version_{operation}")
    op.drop_table("config_version")
