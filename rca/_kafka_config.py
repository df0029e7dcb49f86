"""librdkafka settings for the gate's consumer and quarantine producer, layered and documented in the README.

Lowest first: a Java-style properties file (`RCA_KAFKA_CONFIG` or `--config`, the client.properties form
Kafka's own tools read), then `RCA_LIBRDKAFKA_*` variables (`RCA_LIBRDKAFKA_SASL_MECHANISM=PLAIN` is
`sasl.mechanism`; a double underscore is a literal underscore), then `-X key=value` on the command line.
Names and values go to librdkafka as they are: every property of its CONFIGURATION.md works, SASL and TLS
included. Passwords are never logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from evidence import ConfigError

ENV_PREFIX = "RCA_LIBRDKAFKA_"
# Properties the gate sets itself: it commits only what it stored, and reads every record once.
OWNED = ("group.id", "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof")
_SECRET_MARKERS = ("password", "secret", ".pem", "key.location", "token")


def read_properties(path: Path) -> dict[str, str]:
    """`key=value` (or `key: value`) lines; `#` and `!` start comments, as in a Java properties file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read the Kafka client config {path}: {exc.strerror}; pass a readable "
                          "properties file (key=value lines).") from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut < 0:
            raise ConfigError(f"{path}:{number}: {line!r} is not a key=value setting (librdkafka property names, "
                              "e.g. security.protocol=SASL_SSL).")
        out[line[:cut].strip()] = line[cut + 1 :].strip()
    return out


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """RCA_LIBRDKAFKA_SSL_CA_LOCATION=/etc/ca.pem -> {"ssl.ca.location": "/etc/ca.pem"}."""
    out = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].lower().replace("__", "\0").replace("_", ".").replace("\0", "_")
            out[key] = value
    return out


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"-X {item!r} is not key=value (a librdkafka property, e.g. -X sasl.mechanism=PLAIN).")
        out[key.strip()] = value.strip()
    return out


def client_config(bootstrap: str | None, *, config_file: Path | None = None, overrides: Iterable[str] = (),
                  environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The librdkafka configuration: file, then environment, then -X, then the bootstrap address if given."""
    config: dict[str, str] = {}
    if config_file is not None:
        config.update(read_properties(config_file))
    config.update(from_environment(environ if environ is not None else {}))
    config.update(parse_overrides(overrides))
    if bootstrap:
        config["bootstrap.servers"] = bootstrap
    if not config.get("bootstrap.servers"):
        raise ConfigError("No Kafka bootstrap address: pass --bootstrap HOST:PORT, set RCA_KAFKA_BOOTSTRAP, or put "
                          "bootstrap.servers in the client config file.")
    owned = sorted(set(config) & set(OWNED))
    if owned:
        raise ConfigError(f"{', '.join(owned)} cannot be set for the gate: it names its group with --group and "
                          "commits offsets itself, only after the records are stored.")
    return config


def redacted(config: Mapping[str, str]) -> dict[str, str]:
    return {k: "***" if any(m in k for m in _SECRET_MARKERS) else v for k, v in config.items()}


__all__ = ["ENV_PREFIX", "client_config", "redacted"]
