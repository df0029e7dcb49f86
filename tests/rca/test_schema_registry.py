"""The gate decodes Avro, Protobuf and JSON Schema frames through a schema registry (rca/_registry.py) and checks
them against the contract; frames made by confluent-kafka's own serializers, registered in the fake registry
that ships with rca. Corrupt frames are UNDECODABLE_MESSAGE everywhere, never a change request."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass

from detectors import decode_kafka_bytes
from detectors._wire import Undecodable
from evidence import Contract, Mapping
from evidence._configs import CONTRACT, MAPPING, Configs
from rca._registry import FakeSchemaRegistry, RegistryDecoder
from support import GATE_T0, ORDERS_SCHEMA, PRODUCER

AVRO = json.dumps({"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "order_id", "type": "string"}, {"name": "customer_id", "type": ["null", "string"], "default": None},
    {"name": "amount", "type": "double"}, {"name": "currency", "type": "string"}]})
JSON_SCHEMA = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
                          "properties": {"order_id": {"type": "string"}, "customer_id": {"type": "string"},
                                         "amount": {"type": "number"}, "currency": {"type": "string"}}})
GOOD = {"order_id": "o-1", "customer_id": "c-1", "amount": 10.5, "currency": "EUR"}
BAD = {"order_id": "o-2", "amount": 10.5, "currency": "XXX"}  # no customer_id; currency not in the enum


def _order_class() -> Any:
    """An Order message built from its descriptor (what protoc would generate), in a pool of its own."""
    file = descriptor_pb2.FileDescriptorProto(name="shop/order.proto", package="shop", syntax="proto3")
    message = file.message_type.add(name="Order")
    kinds = {"order_id": 9, "customer_id": 9, "amount": 1, "currency": 9}  # TYPE_STRING, TYPE_DOUBLE
    for number, (name, kind) in enumerate(kinds.items(), start=1):
        message.field.add(name=name, number=number, type=kind, label=1)
    pool = DescriptorPool()
    pool.Add(file)
    return GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


@pytest.fixture
def registry() -> Iterator[FakeSchemaRegistry]:
    with FakeSchemaRegistry() as fake:
        yield fake


@pytest.fixture
def serializers(registry: FakeSchemaRegistry) -> dict[str, Callable[[dict[str, Any]], bytes]]:
    """confluent-kafka's own serializers, registering their schemas in the fake registry."""
    client = SchemaRegistryClient({"url": registry.url})
    avro = AvroSerializer(client, AVRO)
    as_json = JSONSerializer(JSON_SCHEMA, client)
    order = _order_class()
    protobuf = ProtobufSerializer(order, client, {"use.deprecated.format": False})

    def context(topic: str) -> SerializationContext:
        return SerializationContext(topic, MessageField.VALUE)

    return {
        "avro": lambda value: avro(value, context("orders.avro")),
        "json": lambda value: as_json(value, context("orders.json")),
        "protobuf": lambda value: protobuf(order(**{k: v for k, v in value.items() if v is not None}),
                                           context("orders.protobuf")),
    }


def _configure(store: Any, registry: FakeSchemaRegistry, frames: dict[str, bytes]) -> None:
    """One contract; each topic mapped by the schema id its serializer registered (the frame says which)."""
    configs = Configs(store)
    configs.put(CONTRACT, Contract(dataset_urn="ds://orders_v1", schema=ORDERS_SCHEMA), GATE_T0)
    for kind, frame in frames.items():
        schema_id = int.from_bytes(frame[1:5], "big")
        configs.put(MAPPING, Mapping(topic=f"orders.{kind}", schema_id=schema_id, dataset_urn="ds://orders_v1",
                                     producer_urn=PRODUCER), GATE_T0)


def _record(topic: str, offset: int, value: bytes) -> dict[str, Any]:
    return {"topic": topic, "partition": 0, "offset": offset, "timestamp": "2026-03-10T10:00:00Z",
            "value": {"base64": base64.b64encode(value).decode()}}


@pytest.mark.parametrize("kind", ["avro", "protobuf", "json"])
def test_each_schema_type_is_decoded_with_the_writers_schema(registry, serializers, kind: str) -> None:
    decode = RegistryDecoder({"url": registry.url})
    decoded = decode_kafka_bytes(serializers[kind](GOOD), 1 << 20, decode)
    assert (decoded.error, decoded.value, decoded.framed) == (None, GOOD, True)


@pytest.mark.parametrize("kind", ["avro", "protobuf", "json"])
def test_a_framed_record_on_a_mapped_topic_is_decoded_and_checked(make_client, store, registry, serializers,
                                                                  kind: str) -> None:
    good, bad = serializers[kind](GOOD), serializers[kind](BAD)
    _configure(store, registry, {kind: good})
    client = make_client(schema_registry_url=registry.url)
    report = client.post("/v1/gate/records", json=[_record(f"orders.{kind}", 0, good),
                                                    _record(f"orders.{kind}", 1, bad)]).json()
    # Avro's optional field decodes as null; Protobuf and JSON leave it out.
    missing = "NULL_NOT_ALLOWED" if kind == "avro" else "REQUIRED_FIELD_MISSING"
    assert [(r["status"], r.get("dataset_urn"), r.get("reason_code")) for r in report["results"]] == [
        ("accepted", "ds://orders_v1", None), ("accepted", "ds://orders_v1", missing)]
    stored = client.get("/v1/evidence", params={"dataset_urn": "ds://orders_v1"}).json()["items"]
    assert GOOD in [e["payload"]["value"] for e in stored]  # the decoded value is the evidence, not its bytes


CORRUPT = {"magic 0x01": b"\x01\x00\x00\x00\x01abc", "3 bytes": b"\x00\x00\x01", "plain JSON": b'{"order_id": "o"}'}


@pytest.mark.parametrize("with_registry", [True, False])
def test_corrupt_frames_are_undecodable_everywhere_never_a_change_request(make_client, store, registry, serializers,
                                                                         with_registry: bool) -> None:
    _configure(store, registry, {"avro": serializers["avro"](GOOD)})
    client = make_client(schema_registry_url=registry.url if with_registry else None)
    records = [_record("orders.avro", i, value) for i, value in enumerate(CORRUPT.values())]
    report = client.post("/v1/gate/records", json=records).json()
    assert [(r["status"], r.get("reason_code")) for r in report["results"]] == [
        ("accepted", "UNDECODABLE_MESSAGE")] * len(CORRUPT), report
    assert report["held"] == 0 and client.get("/v1/change-requests").json()["items"] == []
    # And off Kafka: the consumer's decoding says the same of the same bytes.
    decode = RegistryDecoder({"url": registry.url}) if with_registry else None
    assert all(type(decode_kafka_bytes(value, 1 << 20, decode).value) is Undecodable
               for value in CORRUPT.values() if value[:1] != b"{")


def test_without_a_registry_an_avro_record_is_undecodable_and_says_what_to_set(make_client, store, registry,
                                                                               serializers) -> None:
    frame = serializers["avro"](GOOD)
    _configure(store, registry, {"avro": frame})
    [result] = make_client().post("/v1/gate/records", json=[_record("orders.avro", 0, frame)]).json()["results"]
    assert (result["status"], result["reason_code"]) == ("accepted", "UNDECODABLE_MESSAGE")


def test_a_schema_id_the_registry_does_not_know_is_undecodable(registry) -> None:
    decoded = decode_kafka_bytes(b"\x00\x00\x00\x03\xe7\x02ab", 1 << 20, RegistryDecoder({"url": registry.url}))
    assert type(decoded.value) is Undecodable and "not in the schema registry" in decoded.value.error


def test_a_registry_that_does_not_answer_is_a_503_and_nothing_is_stored(make_client, store, registry,
                                                                        serializers) -> None:
    frame = serializers["avro"](GOOD)
    _configure(store, registry, {"avro": frame})
    client = make_client(schema_registry_url="http://127.0.0.1:9")
    answer = client.post("/v1/gate/records", json=[_record("orders.avro", 0, frame)])
    assert (answer.status_code, answer.json()["error"]) == (503, "schema_registry_unavailable")
    assert client.get("/v1/evidence").json()["items"] == []


def test_off_kafka_corrupt_frames_and_plain_json_on_a_framed_topic_are_undecodable(store, registry,
                                                                                  serializers) -> None:
    from datetime import timedelta

    from detectors import KafkaRecord, intake_kafka

    _configure(store, registry, {"avro": serializers["avro"](GOOD)})
    decode = RegistryDecoder({"url": registry.url})
    records = []
    for offset, raw in enumerate(CORRUPT.values()):
        decoded = decode_kafka_bytes(raw, 1 << 20, decode) if raw[:1] != b"{" else None
        value, schema_id = (decoded.value, decoded.schema_id) if decoded else (json.loads(raw), None)
        records.append(KafkaRecord("orders.avro", 0, offset, GATE_T0 + timedelta(seconds=offset), None, schema_id,
                                   {}, value, None))
    report = intake_kafka(store, records, GATE_T0 + timedelta(minutes=1))
    assert [(r.status, r.reason_code) for r in report.results] == [("accepted", "UNDECODABLE_MESSAGE")] * 3
    assert report.count("held") == 0
