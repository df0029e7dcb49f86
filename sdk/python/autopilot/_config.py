"""Settings from `AUTOPILOT_*` environment variables and `configure()` keywords.

A value that will not parse never raises: it is logged once, naming the variable and the default
used instead, because a typo in a deployment manifest must not stop the host from starting.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("autopilot")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Settings:
    """Everything the SDK reads at start-up. Defaults are the contract's (sdk/spec/CONTRACT.md)."""

    enabled: bool = False
    endpoint: str | None = None
    token: str | None = None
    producer: str | None = None  # the producer URN, the CloudEvents `source`: svc://name or job://name
    service: str | None = None
    env: str | None = None
    domain: str | None = None
    version: str | None = None
    commit: str | None = None
    queue_size: int = 2048
    batch_size: int = 512
    flush_interval: float = 1.0
    connect_timeout: float = 1.0
    timeout: float = 3.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_age: float = 300.0
    circuit_failures: int = 5
    circuit_reset: float = 30.0
    control_poll_interval: float = 30.0
    shutdown_timeout: float = 2.0
    startup_event: bool = True
    export_drops: bool = False
    health_interval: float = 0.0  # seconds between SdkHealth events; 0 (the default) sends none

    def __post_init__(self) -> None:
        # Derived here so that Settings(service="x") and AUTOPILOT_SERVICE=x mean the same thing.
        producer, service = _identity(self.producer, self.service)
        object.__setattr__(self, "producer", producer)
        object.__setattr__(self, "service", service)
        if self.endpoint:
            object.__setattr__(self, "endpoint", self.endpoint.rstrip("/"))

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with the token hidden, for logs and `autopilot settings`."""
        values = dataclasses.asdict(self)
        if values["token"]:
            values["token"] = "***"
        return values


# (environment suffix, field, kind, lower bound, upper bound). Bounds keep a bad value from turning
# the SDK into the thing that hurts the host (a queue of 10**9 events, a 0 s flush interval spin).
_NUMERIC = (
    ("QUEUE_SIZE", "queue_size", int, 1, 1_000_000),
    ("BATCH_SIZE", "batch_size", int, 1, 10_000),
    ("FLUSH_INTERVAL", "flush_interval", float, 0.01, 3600.0),
    ("CONNECT_TIMEOUT", "connect_timeout", float, 0.01, 60.0),
    ("TIMEOUT", "timeout", float, 0.01, 300.0),
    ("MAX_RETRIES", "max_retries", int, 0, 100),
    ("BACKOFF_BASE", "backoff_base", float, 0.0, 60.0),
    ("BACKOFF_MAX", "backoff_max", float, 0.0, 3600.0),
    ("MAX_AGE", "max_age", float, 0.1, 86_400.0),
    ("CIRCUIT_FAILURES", "circuit_failures", int, 1, 1000),
    ("CIRCUIT_RESET", "circuit_reset", float, 0.01, 86_400.0),
    ("CONTROL_POLL_INTERVAL", "control_poll_interval", float, 0.01, 86_400.0),
    ("SHUTDOWN_TIMEOUT", "shutdown_timeout", float, 0.0, 300.0),
    ("HEALTH_INTERVAL", "health_interval", float, 0.0, 86_400.0),
)
_BOOLEAN = (("ENABLED", "enabled"), ("STARTUP_EVENT", "startup_event"), ("EXPORT_DROPS", "export_drops"))
_TEXT = (
    ("ENDPOINT", "endpoint"),
    ("TOKEN", "token"),
    ("PRODUCER", "producer"),
    ("SERVICE", "service"),
    ("ENV", "env"),
    ("DOMAIN", "domain"),
    ("VERSION", "version"),
    ("COMMIT", "commit"),
)
FIELDS = frozenset(f.name for f in dataclasses.fields(Settings))


def parse_bool(name: str, raw: Any, default: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    logger.warning("%s=%r is not a boolean (true/false); using %s.", name, raw, str(default).lower())
    return default


def parse_number(name: str, raw: Any, kind: type, low: float, high: float, default: float) -> Any:
    try:
        if isinstance(raw, bool):
            raise ValueError(raw)
        value = kind(raw.strip()) if isinstance(raw, str) else kind(raw)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        logger.warning("%s=%r is not %s; using the default %s.", name, raw, what, default)
        return default
    if not low <= value <= high or value != value:  # value != value catches NaN
        logger.warning("%s=%r is outside [%s, %s]; using the default %s.", name, raw, low, high, default)
        return default
    return value


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read `AUTOPILOT_*` from `environ` (default `os.environ`); keyword overrides win over it."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    for suffix, field in _BOOLEAN:
        name = "AUTOPILOT_" + suffix
        raw = overrides[field] if overrides.get(field) is not None else env.get(name)
        values[field] = getattr(defaults, field) if raw is None else parse_bool(name, raw, getattr(defaults, field))
    for suffix, field, kind, low, high in _NUMERIC:
        name = "AUTOPILOT_" + suffix
        raw = overrides[field] if overrides.get(field) is not None else env.get(name)
        default = getattr(defaults, field)
        values[field] = default if raw in (None, "") else parse_number(name, raw, kind, low, high, default)
    for suffix, field in _TEXT:
        raw = overrides[field] if overrides.get(field) is not None else env.get("AUTOPILOT_" + suffix)
        values[field] = str(raw).strip() or None if raw is not None else None
    return Settings(**values)


def _identity(producer: str | None, service: str | None) -> tuple[str | None, str | None]:
    """Derive the producer URN from the service name, or the service name from a svc:// URN."""
    if producer and "://" not in producer:
        logger.warning("AUTOPILOT_PRODUCER=%r has no scheme; using svc://%s.", producer, producer)
        producer = "svc://" + producer
    if not producer and service:
        producer = "svc://" + service
    if producer and not service and producer.startswith("svc://"):
        service = producer[len("svc://") :] or None
    return producer, service
