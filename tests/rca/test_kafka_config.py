"""librdkafka settings for the gate: file, then RCA_LIBRDKAFKA_*, then -X; mistakes named before connecting."""

from pathlib import Path

import pytest

from evidence import ConfigError
from rca import Settings
from rca._kafka_config import client_config, redacted
from rca.app import create_app


def test_layers_file_then_environment_then_flags(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("# from the platform team\nsecurity.protocol=SASL_SSL\nsasl.mechanism: PLAIN\n"
                          "! a Java-style comment\nsasl.username=gate\nsasl.password=from-file\n")
    environ = {"RCA_LIBRDKAFKA_SASL_PASSWORD": "from-env", "RCA_LIBRDKAFKA_SSL_CA_LOCATION": "/etc/ca.pem",
               "RCA_LIBRDKAFKA_SSL_ENGINE__ID": "x", "RCA_OTHER": "ignored"}
    config = client_config("broker:9093", config_file=properties, overrides=["sasl.mechanism=SCRAM-SHA-512"],
                           environ=environ)
    assert config == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "gate",
                      "sasl.password": "from-env", "ssl.ca.location": "/etc/ca.pem", "ssl.engine_id": "x",
                      "bootstrap.servers": "broker:9093"}
    assert redacted(config)["sasl.password"] == "***" and redacted(config)["sasl.username"] == "gate"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bootstrap": None}, "No Kafka bootstrap address"),
    ({"bootstrap": "b:9092", "overrides": ["nonsense"]}, "-X 'nonsense' is not key=value"),
    ({"bootstrap": "b:9092", "overrides": ["enable.auto.commit=true"]}, "commits offsets itself"),
    ({"bootstrap": "b:9092", "config_file": Path("/nonexistent/client.properties")}, "Cannot read"),
])
def test_mistakes_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        client_config(environ={}, **kwargs)


def test_a_properties_line_without_a_value_names_its_line(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("security.protocol=SSL\nsasl.mechanism\n")
    with pytest.raises(ConfigError, match=r"client.properties:2: 'sasl.mechanism' is not a key=value"):
        client_config("b:9092", config_file=properties, environ={})


def test_serve_with_a_bootstrap_but_no_topics_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="RCA_KAFKA_TOPICS is empty"):
        create_app(Settings(database_url="sqlite://", kafka_bootstrap="127.0.0.1:9"))
