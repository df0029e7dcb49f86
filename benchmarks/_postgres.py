"""An empty PostgreSQL database for a benchmark's next round (RCA_TEST_POSTGRES_URL, set by scripts/with-postgres)."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def reset_postgres(url: str) -> str:
    """Drop and recreate the public schema, so the next round starts from nothing; returns `url`."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
