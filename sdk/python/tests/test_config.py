"""Settings: AUTOPILOT_* and configure() keywords; a bad value falls back to its default, logged."""

from __future__ import annotations

import logging

import pytest

import autopilot
from autopilot import Settings
from autopilot._config import load_settings


def test_everything_is_off_by_default():
    assert load_settings({}) == Settings()
    assert Settings().enabled is False


def test_the_environment_is_read():
    settings = load_settings(
        {
            "AUTOPILOT_ENABLED": "true",
            "AUTOPILOT_ENDPOINT": "https://rca.internal/",
            "AUTOPILOT_TOKEN": "t0k",
            "AUTOPILOT_SERVICE": "checkout-service",
            "AUTOPILOT_ENV": "prod",
            "AUTOPILOT_DOMAIN": "orders",
            "AUTOPILOT_QUEUE_SIZE": "500",
            "AUTOPILOT_BATCH_SIZE": "50",
            "AUTOPILOT_FLUSH_INTERVAL": "0.5",
            "AUTOPILOT_CONNECT_TIMEOUT": "0.25",
            "AUTOPILOT_TIMEOUT": "2",
            "AUTOPILOT_MAX_RETRIES": "5",
            "AUTOPILOT_MAX_AGE": "60",
            "AUTOPILOT_CONTROL_POLL_INTERVAL": "10",
            "AUTOPILOT_STARTUP_EVENT": "off",
        }
    )
    assert settings == Settings(
        enabled=True,
        endpoint="https://rca.internal",
        token="t0k",
        producer="svc://checkout-service",
        service="checkout-service",
        env="prod",
        domain="orders",
        queue_size=500,
        batch_size=50,
        flush_interval=0.5,
        connect_timeout=0.25,
        timeout=2.0,
        max_retries=5,
        max_age=60.0,
        control_poll_interval=10.0,
        startup_event=False,
    )


@pytest.mark.parametrize(
    ("name", "raw", "field", "default"),
    [
        ("AUTOPILOT_QUEUE_SIZE", "lots", "queue_size", 2048),
        ("AUTOPILOT_QUEUE_SIZE", "0", "queue_size", 2048),
        ("AUTOPILOT_QUEUE_SIZE", "10000000000", "queue_size", 2048),
        ("AUTOPILOT_BATCH_SIZE", "1.5", "batch_size", 512),
        ("AUTOPILOT_TIMEOUT", "fast", "timeout", 3.0),
        ("AUTOPILOT_TIMEOUT", "nan", "timeout", 3.0),
        ("AUTOPILOT_FLUSH_INTERVAL", "-1", "flush_interval", 1.0),
        ("AUTOPILOT_ENABLED", "yes please", "enabled", False),
        ("AUTOPILOT_MAX_RETRIES", "", "max_retries", 3),
    ],
)
def test_a_bad_value_falls_back_to_its_default_and_says_so(caplog, name, raw, field, default):
    with caplog.at_level(logging.WARNING, logger="autopilot"):
        settings = load_settings({name: raw})
    assert getattr(settings, field) == default
    if raw:
        assert (name in caplog.text and "default" in caplog.text) or "using" in caplog.text


def test_keywords_win_over_the_environment():
    settings = load_settings({"AUTOPILOT_QUEUE_SIZE": "10", "AUTOPILOT_SERVICE": "a"}, queue_size=20, service="b")
    assert (settings.queue_size, settings.producer) == (20, "svc://b")


def test_a_keyword_that_will_not_parse_falls_back_too(caplog):
    assert load_settings({}, queue_size="many").queue_size == 2048


def test_the_producer_urn_and_the_service_name_derive_from_each_other(caplog):
    assert Settings(service="checkout").producer == "svc://checkout"
    assert Settings(producer="svc://checkout").service == "checkout"
    job = Settings(producer="job://orders_enriched_batch")
    assert (job.producer, job.service) == ("job://orders_enriched_batch", None)
    with caplog.at_level(logging.WARNING, logger="autopilot"):
        assert Settings(producer="checkout").producer == "svc://checkout"
    assert "no scheme" in caplog.text


def test_an_unknown_configure_keyword_is_a_usage_error_that_names_the_valid_ones():
    with pytest.raises(TypeError, match="queue_size"):
        autopilot.configure(queue_sise=10)


def test_enabled_without_an_endpoint_stays_off(caplog):
    with caplog.at_level(logging.WARNING, logger="autopilot"):
        client = autopilot.configure(environ={"AUTOPILOT_ENABLED": "true"})
    assert client.active is False
    assert autopilot.emit("JobRunStarted", {"run_id": "r"}) is False
    assert "AUTOPILOT_ENDPOINT" in caplog.text


def test_the_token_is_never_printed():
    assert Settings(token="secret").redacted()["token"] == "***"
