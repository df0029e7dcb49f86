"""confluent-kafka's Producer, adding autopilot's identity headers to every record it sends.

    from autopilot.kafka import Producer   # pip install 'autopilot[kafka]'

    producer = Producer({"bootstrap.servers": "kafka:9092"})   # exactly confluent_kafka.Producer's config
    producer.produce("orders.created", value=payload, key=order_id)   # + the identity headers
    producer.flush()

The headers (sdk/spec/CONTRACT.md, section 8) tell rca's contract gate which producer, environment,
deploy version and trace wrote each record. They are empty while the SDK is disabled or killed, a header
the caller already set wins over ours, and nothing here ever raises: if the headers cannot be built, the
record is produced exactly as the caller asked. Everything else is confluent-kafka's own behaviour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Union

from confluent_kafka import Producer as _ConfluentProducer

from . import get_client
from ._client import Client

__all__ = ["Producer", "with_identity"]

logger = logging.getLogger("autopilot")
Headers = Union[Mapping[str, Any], Sequence[tuple], None]
_warned = threading.Event()


def with_identity(headers: Headers, client: Client | None = None, traceparent: str | None = None) -> Any:
    """The caller's headers plus the identity headers it does not set itself, in the caller's form (a dict
    stays a dict, a list a list). Never raises: on any error the caller's headers come back untouched."""
    try:
        identity = (client or get_client()).kafka_headers(traceparent)
        if not identity:
            return headers
        if headers is None:
            return identity
        if isinstance(headers, Mapping):
            merged = dict(headers)
            for name, value in identity:
                merged.setdefault(name, value)
            return merged
        given = list(headers)
        names = {pair[0] for pair in given}
        return given + [(name, value) for name, value in identity if name not in names]
    except Exception:  # the host's record matters more than our hints
        if not _warned.is_set():
            _warned.set()
            logger.warning("autopilot: could not add Kafka identity headers; records are sent without them",
                           exc_info=True)
        return headers


class Producer(_ConfluentProducer):
    """`confluent_kafka.Producer` whose produce() adds the identity headers. `client` defaults to the
    process-wide one (autopilot.configure()), read at each call, so a reconfiguration or kill applies at once."""

    def __init__(self, config: Mapping[str, Any], *, client: Client | None = None, **kwargs: Any) -> None:
        super().__init__(dict(config), **kwargs)
        self._autopilot_client = client

    def produce(self, topic: str, *args: Any, headers: Headers = None, **kwargs: Any) -> None:
        if len(args) > 5:  # confluent-kafka's positional order: value, key, partition, on_delivery, timestamp, headers
            args, headers = args[:5], args[5]
        return super().produce(topic, *args, headers=with_identity(headers, self._autopilot_client), **kwargs)
