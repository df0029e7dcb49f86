"""The rollout flag per (service, environment): a ring's promotion turns it on in one environment for each of its
services, so a service is on in staging and still off in prod until its ring is promoted again. A ring's flag is
what every one of its active services has reached; the control plane keeps each service's flag per environment
(GET /v1/control/{producer}?env=), on top of its producer switch (enabled, ring)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from evidence import Control, Store, put_control, put_environment_flag

FLAGS = ("off", "staging", "prod")  # a ring's steps; each step after off is the environment it turns on
ENVIRONMENTS = FLAGS[1:]


def reached(flags: Mapping[str, datetime]) -> str:
    """How far one service's flags go: the last environment of the plan it is on in, all earlier ones on too."""
    level = "off"
    for environment in ENVIRONMENTS:
        if environment not in flags:
            break
        level = environment
    return level


def ring_flag(members: Iterable[Mapping[str, datetime]], otherwise: str = "off") -> str:
    """A ring's flag: the furthest step every one of its active services has reached (`otherwise` for a ring with
    none, which keeps what it had)."""
    levels = [FLAGS.index(reached(flags)) for flags in members]
    return FLAGS[min(levels)] if levels else otherwise


def legacy_flags(ring_flag_value: str, since: Mapping[str, datetime]) -> dict[str, datetime]:
    """The per-service flags of a campaign saved when flags were per ring only: each environment the ring reached,
    turned on when the ring's did."""
    return {env: since[env] for env in ENVIRONMENTS[:FLAGS.index(ring_flag_value)] if env in since}


def turn_on(store: Store, producer: str, ring: int, domain: str | None, environment: str,
            flags: Mapping[str, datetime], now: datetime) -> None:
    """The control plane's side of a promotion: the producer switch (enabled, its ring), its flag on in
    `environment`, and every later environment it is not on in (`flags`) written off, so an SDK there that names
    its environment stays off until its ring gets there."""
    put_control(store, Control("producer", producer, enabled=True, ring=ring, domain=domain), now)
    put_environment_flag(store, producer, environment, True, now)
    for later in ENVIRONMENTS[ENVIRONMENTS.index(environment) + 1:]:
        if later not in flags:
            put_environment_flag(store, producer, later, False, now)
