"""Where the gate copies records: names Kafka accepts, whatever the record's topic."""

from __future__ import annotations

import re

import pytest

from evidence import Contract
from rca._quarantine import MAX_TOPIC, destinations

LEGAL = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def contract(**fields: str) -> Contract:
    return Contract.model_validate({"dataset_urn": "ds://orders", "enforcement": "reject",
                                    "schema": {"type": "object"}, **fields})


def test_a_short_topic_keeps_the_plain_names() -> None:
    assert destinations(contract(valid_topic="{topic}.rca-valid"), "orders") == ("orders.rca-rejected",
                                                                                  "orders.rca-valid")


@pytest.mark.parametrize("length", [236, 237, 240, 249])
def test_a_long_topic_gets_a_legal_dead_letter_name_that_keeps_its_suffix(length: int) -> None:
    topic = "t" * length
    dead, _ = destinations(contract(), topic)
    assert LEGAL.match(dead) and len(dead) <= MAX_TOPIC
    assert dead.endswith(".rca-rejected")
    assert dead == destinations(contract(), topic)[0]  # the same name on every replica and every batch


def test_two_long_topics_with_one_head_get_two_names() -> None:
    head = "orders." * 35
    first, _ = destinations(contract(), head + "eu")
    second, _ = destinations(contract(), head + "us")
    assert first != second and len(first) == len(second) == MAX_TOPIC


def test_a_template_using_the_topic_twice_still_fits() -> None:
    dead, valid = destinations(contract(dead_letter_topic="dlq.{topic}.{topic}", valid_topic="ok.{topic}.{topic}"),
                               "x" * 200)
    assert dead is not None and valid is not None
    assert all(LEGAL.match(name) for name in (dead, valid))
    assert dead.startswith("dlq.") and valid.startswith("ok.")
