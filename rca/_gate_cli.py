"""`rca gate consume`: the contract gate as a member of a Kafka consumer group."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

from evidence import ConfigError, Store
from rca._kafka_config import client_config, redacted
from rca._settings import Settings

log = logging.getLogger("rca.kafka")


@click.group("gate")
def gate() -> None:
    """The contract gate on Kafka."""


@gate.command("consume")
@click.argument("extra_topics", nargs=-1, metavar="[PATTERN]...")
@click.option("--bootstrap", envvar="RCA_KAFKA_BOOTSTRAP", metavar="HOST:PORT",
              help="HOST:PORT[,HOST:PORT...] of the brokers (RCA_KAFKA_BOOTSTRAP).")
@click.option("--group", envvar="RCA_KAFKA_GROUP", default="rca-gate", show_default=True, metavar="NAME",
              help="The consumer group; processes with the same group share the partitions (RCA_KAFKA_GROUP).")
@click.option("--topics", multiple=True, envvar="RCA_KAFKA_TOPICS", metavar="PATTERN",
              help="Topic names, or regular expressions starting with ^ (repeatable, or comma-separated; "
              "`--topics a b c` reads three) (RCA_KAFKA_TOPICS).")
@click.option("--config", type=click.Path(path_type=Path), envvar="RCA_KAFKA_CONFIG", metavar="FILE",
              help="librdkafka properties file (key=value: SASL, TLS, ...) (RCA_KAFKA_CONFIG).")
@click.option("-X", "setting", multiple=True, metavar="KEY=VALUE",
              help="One librdkafka property (repeatable; wins over the file and RCA_LIBRDKAFKA_*).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=5000, show_default=True, metavar="N",
              help="Records per stored batch.")
@click.option("--max-value-bytes", type=click.IntRange(min=1024), envvar="RCA_KAFKA_MAX_VALUE_BYTES",
              default=1024 * 1024, show_default=True, metavar="BYTES",
              help="Larger values are UNDECODABLE_MESSAGE findings (RCA_KAFKA_MAX_VALUE_BYTES).")
@click.option("--stop-at-end", is_flag=True, help="Exit once every assigned partition has been read to its end.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Serve Prometheus metrics (records/s, poison records, the group's lag) on this port of RCA_HOST.")
def consume(extra_topics: tuple[str, ...], bootstrap: str | None, group: str, topics: tuple[str, ...],
            config: Path | None, setting: tuple[str, ...], batch_size: int, max_value_bytes: int,
            stop_at_end: bool, metrics_port: int | None) -> None:
    """Read topics as a consumer-group member: resolve, gate and store every record, then commit its offset."""
    from rca._kafka import ConsumerOptions, GateConsumer
    from rca.app import frame_decoder, system_clock

    names = [t.strip() for value in [*(topics or []), *(extra_topics or [])] for t in value.split(",") if t.strip()]
    if not names:
        raise click.UsageError("name at least one topic: --topics orders.created (or a pattern like ^orders\\..*)")
    try:
        librdkafka = client_config(bootstrap, config_file=config, overrides=setting or (),
                                   environ=Settings().families())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("librdkafka settings: %s", redacted(librdkafka))
    store = Store.open(Settings().database_url)
    store.ensure_schema()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stopper(stop))
    options = ConsumerOptions(librdkafka, group, tuple(names), batch_size=batch_size,
                              max_value_bytes=max_value_bytes, stop_at_end=stop_at_end)
    member = GateConsumer(store, options, system_clock, frames=frame_decoder(Settings()))
    if metrics_port:
        _serve_metrics(member, librdkafka, group, metrics_port)
    # Every record allocates a few objects; the default thresholds collected every few hundred records, and
    # each full collection walked the whole heap (the same trade as `rca serve` makes, benchmarks/).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        member.run(stop)
    finally:
        store.close()


def _serve_metrics(member: Any, librdkafka: dict[str, str], group: str, port: int) -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    from rca._kafka import GroupLag
    from rca._metrics import KafkaCollector

    registry = CollectorRegistry()
    registry.register(KafkaCollector(member.stats, GroupLag(librdkafka, group), group))
    start_http_server(port, addr=Settings().host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", Settings().host, port)


def _stopper(stop: threading.Event) -> Any:
    def handle(signum: int, _: Any) -> None:
        log.info("stopping on signal %d: committing what is stored", signum)
        stop.set()

    return handle
