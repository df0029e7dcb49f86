"""Confluent Schema Registry: Avro, Protobuf and JSON Schema frames decoded with the writer's registered schema.

The only module that imports confluent_kafka.schema_registry. `RegistryDecoder` is the seam the gate takes (a
`detectors.FrameDecoder`: schema id and frame in, JSON value out, `WireFormatError` saying why not);
`FakeSchemaRegistry` is a local server speaking the registry's REST API (the subset serializers and
deserializers use), for tests and demos: confluent-kafka's own serializers register their schemas in it.

RCA_SCHEMA_REGISTRY_URL names the registry (`Settings.schema_registry_url`); RCA_SCHEMA_REGISTRY_* settings
(`basic.auth.user.info`, `ssl.ca.location`, ... with dots as underscores) go to the client as they are.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import threading
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.common._httpx_compat import httpx  # httpx2 or httpx: whichever it uses
from confluent_kafka.schema_registry.common.protobuf import _init_pool, _str_to_proto
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

from detectors import RegistryUnavailable, WireFormatError

_PREFIX = "RCA_SCHEMA_REGISTRY_"
_CONTEXT = SerializationContext("rca-gate", MessageField.VALUE)


def client_config(url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The client's settings: the URL, and RCA_SCHEMA_REGISTRY_<SETTING> (dots as underscores) for the rest."""
    config = {"url": url}
    for name, value in (environ or {}).items():
        if name.startswith(_PREFIX) and name != f"{_PREFIX}URL":
            config[name.removeprefix(_PREFIX).lower().replace("_", ".")] = value
    return config


class RegistryDecoder:
    """Decodes a Confluent frame with the schema its id names, whatever the schema type."""

    def __init__(self, config: dict[str, str]) -> None:
        self._client = SchemaRegistryClient(config)
        # The client caches a schema by id whatever format it was asked in: Protobuf's descriptors (the
        # serialized format) come through a second client, so the first keeps each schema's usual text.
        self._descriptors = SchemaRegistryClient(config)
        self._avro = AvroDeserializer(self._client)
        self._json = JSONDeserializer(None, schema_registry_client=self._client)
        self._protobuf: dict[int, tuple[DescriptorPool, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, schema_id: int, frame: bytes) -> Any:
        try:
            schema_type = self._client.get_schema(schema_id).schema_type or "AVRO"
            if schema_type == "AVRO":
                return _jsonable(self._avro(frame, None))
            if schema_type == "JSON":  # its subject-name strategy wants a context; the writer's schema is by id
                return _jsonable(self._json(frame, _CONTEXT))
            if schema_type == "PROTOBUF":
                return self._protobuf_value(schema_id, frame)
            raise WireFormatError(f"schema {schema_id} is of type {schema_type}, which the gate cannot decode")
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise WireFormatError(f"schema id {schema_id} is not in the schema registry ({exc.error_message})") \
                    from None
            raise RegistryUnavailable(f"the schema registry answered {exc.http_status_code}: {exc.error_message}") \
                from exc
        except httpx.HTTPError as exc:  # the client's transport
            raise RegistryUnavailable(f"the schema registry did not answer: {exc}") from exc
        except (SerializationError, DecodeError, EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise WireFormatError(f"payload does not decode with schema {schema_id}: {exc or type(exc).__name__}") \
                from None

    def _protobuf_value(self, schema_id: int, frame: bytes) -> Any:
        with self._lock:
            parsed = self._protobuf.get(schema_id)
            if parsed is None:
                schema = self._descriptors.get_schema(schema_id, fmt="serialized")
                if schema.references:
                    raise WireFormatError(f"Protobuf schema {schema_id} imports other registered schemas, which "
                                          "the gate does not resolve yet")
                pool = DescriptorPool()
                _init_pool(pool)
                proto = _str_to_proto("default", schema.schema_str or "")
                pool.Add(proto)
                parsed = self._protobuf[schema_id] = (pool, pool.FindFileByName(proto.name))
        header = SchemaId("PROTOBUF")
        payload = header.from_bytes(io.BytesIO(frame))
        message = GetMessageClass(_message(parsed[1], header.message_indexes or [0]))()
        message.ParseFromString(payload.read())
        return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _message(file: Any, indexes: list[int]) -> Descriptor:
    """The message a frame's index path names: the first index among the file's messages, the rest nested."""
    descriptor: Descriptor = list(file.message_types_by_name.values())[indexes[0]]
    for index in indexes[1:]:
        descriptor = descriptor.nested_types[index]
    return descriptor


def _jsonable(value: Any) -> Any:
    """An Avro or JSON Schema value as JSON: bytes as base64, decimals as strings, times as RFC 3339."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class FakeSchemaRegistry:
    """A schema registry on a loopback port that keeps what is registered in memory: POST
    /subjects/{subject}/versions, POST /subjects/{subject} (lookup), GET /schemas/ids/{id},
    GET /subjects/{subject}/versions/latest. A schema is returned exactly as it was registered, in any
    `format` (confluent-kafka's Protobuf serializer registers the serialized descriptor, which is what its
    deserializer asks for)."""

    def __init__(self) -> None:
        self.schemas: dict[int, dict[str, Any]] = {}  # id -> {"schema", "schemaType", "references"}
        self.subjects: dict[str, list[int]] = {}
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(*registry.get(urlparse(self.path).path))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                self._answer(*registry.post(urlparse(self.path).path, body))

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-schema-registry", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lock = threading.Lock()

    def __enter__(self) -> FakeSchemaRegistry:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        entry = {"schema": schema["schema"], "schemaType": schema.get("schemaType") or "AVRO",
                 "references": schema.get("references") or []}
        with self._lock:
            schema_id = next((i for i, known in self.schemas.items() if known == entry), None)
            if schema_id is None:
                schema_id = len(self.schemas) + 1
                self.schemas[schema_id] = entry
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
        return schema_id

    def get(self, path: str) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
            entry = self.schemas.get(int(parts[2]))
            return (200, {"id": int(parts[2]), **entry}) if entry else _not_found(40403, "Schema not found")
        if len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
            versions = self.subjects.get(parts[1])
            if not versions:
                return _not_found(40401, "Subject not found")
            index = len(versions) if parts[3] == "latest" else int(parts[3]) if parts[3].isdigit() else 0
            if not 1 <= index <= len(versions):
                return _not_found(40402, "Version not found")
            schema_id = versions[index - 1]
            return 200, {"subject": parts[1], "version": index, "id": schema_id, **self.schemas[schema_id]}
        return _not_found(404, f"no such resource {path}")

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            return 200, {"id": self.register(parts[1], body)}
        if len(parts) == 2 and parts[0] == "subjects":
            entry = {"schema": body.get("schema"), "schemaType": body.get("schemaType") or "AVRO",
                     "references": body.get("references") or []}
            for version, schema_id in enumerate(self.subjects.get(parts[1], []), start=1):
                if self.schemas[schema_id] == entry:
                    return 200, {"subject": parts[1], "version": version, "id": schema_id, **entry}
            return _not_found(40403, "Schema not found")
        return _not_found(404, f"no such resource {path}")


def _not_found(code: int, message: str) -> tuple[int, Any]:
    return 404, {"error_code": code, "message": message}


__all__ = ["FakeSchemaRegistry", "RegistryDecoder", "client_config"]
