"""`rca gate consume`: the contract gate as a member of a Kafka consumer group."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from evidence import ConfigError
from evidence._store import Store
from rca._kafka_config import client_config, redacted
from rca._settings import Settings

gate_app = typer.Typer(help="The contract gate on Kafka.", no_args_is_help=True)
log = logging.getLogger("rca.kafka")


@gate_app.command("consume")
def consume(
    extra_topics: Annotated[list[str] | None, typer.Argument(
        metavar="[PATTERN]...", help="More topics, so that `--topics a b c` reads three.", show_default=False)] = None,
    bootstrap: Annotated[str | None, typer.Option(
        envvar="RCA_KAFKA_BOOTSTRAP", help="HOST:PORT[,HOST:PORT...] of the brokers.")] = None,
    group: Annotated[str, typer.Option(envvar="RCA_KAFKA_GROUP", help="The consumer group; processes with the "
                                       "same group share the partitions.")] = "rca-gate",
    topics: Annotated[list[str] | None, typer.Option(
        "--topics", envvar="RCA_KAFKA_TOPICS", help="Topic names, or regular expressions starting with ^ "
        "(repeatable, or comma-separated).")] = None,
    config: Annotated[Path | None, typer.Option(
        envvar="RCA_KAFKA_CONFIG", help="librdkafka properties file (key=value: SASL, TLS, ...).")] = None,
    setting: Annotated[list[str] | None, typer.Option(
        "-X", help="One librdkafka property, key=value (repeatable; wins over the file and RCA_LIBRDKAFKA_*).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Records per stored batch.")] = 5000,
    max_value_bytes: Annotated[int, typer.Option(
        envvar="RCA_KAFKA_MAX_VALUE_BYTES", min=1024, help="Larger values are UNDECODABLE_MESSAGE findings.")]
        = 1024 * 1024,
    stop_at_end: Annotated[bool, typer.Option(
        "--stop-at-end", help="Exit once every assigned partition has been read to its end.")] = False,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus metrics (records/s, poison records, the group's lag) on this port of RCA_HOST.")]
        = None,
) -> None:
    """Read topics as a consumer-group member: resolve, gate and store every record, then commit its offset."""
    from rca._kafka import ConsumerOptions, GateConsumer
    from rca.app import system_clock

    names = [t.strip() for value in [*(topics or []), *(extra_topics or [])] for t in value.split(",") if t.strip()]
    if not names:
        raise typer.BadParameter("name at least one topic: --topics orders.created (or a pattern like ^orders\\..*)")
    try:
        librdkafka = client_config(bootstrap, config_file=config, overrides=setting or (), environ=os.environ)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("librdkafka settings: %s", redacted(librdkafka))
    store = Store.open(Settings().database_url)
    store.ensure_schema()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stopper(stop))
    options = ConsumerOptions(librdkafka, group, tuple(names), batch_size=batch_size,
                              max_value_bytes=max_value_bytes, stop_at_end=stop_at_end)
    member = GateConsumer(store, options, system_clock)
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
