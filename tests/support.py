"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get("RCA_TEST_POSTGRES_URL")
# The contract of the reference Spring scenario (shared/scenarios/spring_missing_customer_id.yaml).
ORDERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "customer_id", "amount", "currency"],
    "properties": {
        "order_id": {"type": "string"},
        "customer_id": {"type": "string"},
        "amount": {"type": "number"},
        "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]},
        "note": {"type": "string"},
    },
}


class FixedClock:
    """The clock seam for tests: set it, advance it; nothing reads the wall clock."""

    def __init__(self, now: datetime = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def deployment(event_id: str, source: str = "svc://checkout-service", time: str = "2026-03-10T10:20:00+00:00",
               **data: Any) -> dict[str, Any]:
    body = {"service": source.split("://", 1)[1], "version": "v2.8.1", "env": "prod", **data}
    return {"specversion": "1.0", "id": event_id, "source": source, "type": "DeploymentEvent", "time": time,
            "data": body}
