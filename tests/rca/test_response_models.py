"""Every JSON answer is described whole by the OpenAPI description: valid against the operation's 200 schema, and
no key the schema does not name (issue 14). Run over the routes that answered untyped objects before, on data that
exercises each: drafts, readiness, quality, a detector pass, a false positive, drift change requests approved and
rejected, chat, SdkHealth, adoption and OpenLineage (one event and a batch)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from detectors._scenario import load_into, load_scenario
from support import REFERENCE, ROOT

SPRING = load_scenario(REFERENCE / "spring_missing_customer_id.yaml")
SLOW = load_scenario(REFERENCE / "spark_job_running_slow.yaml")
LINEAGE = json.loads((ROOT / "tests/fixtures/conformance/openlineage_full_complete_event.json").read_text())


def undeclared(schema: dict[str, Any], value: Any, definitions: dict[str, Any], where: str = "") -> list[str]:
    """The places in `value` that `schema` does not describe: keys of an object it does not name (unless it allows
    more), looked for through $ref, anyOf / oneOf (the branch that describes most) and arrays."""
    if "$ref" in schema:
        return undeclared(definitions[schema["$ref"].rsplit("/", 1)[-1]], value, definitions, where)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return min((undeclared(b, value, definitions, where) for b in branches), key=len)
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [p for i, v in enumerate(value) for p in undeclared(items, v, definitions, f"{where}[{i}]")]
    if not isinstance(value, dict) or (schema.get("type") != "object" and "properties" not in schema):
        return []
    properties, more = schema.get("properties") or {}, schema.get("additionalProperties", False)
    found = [f"{where}.{k}" for k in value if k not in properties and not more]
    for key, item in value.items():
        inner = properties.get(key) or (more if isinstance(more, dict) else {})
        found += undeclared(inner, item, definitions, f"{where}.{key}")
    return found


def check(client: TestClient, method: str, path: str, route: str | None = None, **kwargs: Any) -> Any:
    """Call the route and check its answer against the description's 200 schema; the answer's JSON."""
    response = client.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    description = client.get("/openapi.json").json()
    definitions = description["components"]["schemas"]
    schema = description["paths"][route or path][method.lower()]["responses"]["200"]["content"]["application/json"][
        "schema"]
    body = response.json()
    jsonschema.validate(body, {**schema, "components": description["components"]},
                        format_checker=jsonschema.FormatChecker())
    assert undeclared(schema, body, definitions) == [], f"{method} {route or path}: keys the description lacks"
    return body


def test_every_answer_of_the_typed_routes_is_in_the_documented_shape(make_client, store, clock) -> None:
    client = make_client()
    slow = copy.deepcopy(SLOW)
    slow.policies = []  # a dataset without a policy: a draft to suggest
    load_into(store, slow)
    load_into(store, SPRING)
    clock.now = SPRING.now
    health = {"specversion": "1.0", "id": "h-1", "source": "svc://checkout-service", "type": "SdkHealth",
              "time": (clock() - timedelta(minutes=5)).isoformat(),
              "data": {"language": "java", "sdk_version": "0.1.0", "instance": "i", "delivered": 990,
                       "dropped": {"queue_full": 10}, "queue_depth": 0, "circuit": "closed", "env": "prod"}}
    assert client.post("/v1/events", json=[health]).json()["accepted"] == 1

    detected = check(client, "POST", "/v1/detect")
    assert len(detected["opened"]) == 1
    suggested = check(client, "POST", "/v1/policy-drafts/suggest", json={"lookback_days": 365})
    assert [d["status"] for d in suggested["items"]] == ["draft"]
    accepted = check(client, "POST", f"/v1/policy-drafts/{suggested['items'][0]['id']}/accept",
                     "/v1/policy-drafts/{draft_id}/accept", json={"edits": {"tier": 1}})
    assert accepted["config_id"] >= 1
    check(client, "GET", "/v1/policy-drafts")
    check(client, "GET", "/v1/readiness")
    check(client, "GET", "/v1/readiness", params={"dataset_urn": "ds://orders_v1"})
    check(client, "GET", "/v1/sdk-health")
    check(client, "GET", "/v1/adoption")
    [incident] = client.get("/v1/incidents").json()["items"]
    answer = check(client, "POST", "/v1/chat", json={"question": "why?", "incident_id": incident["id"]})
    assert answer["has_evidence"]

    drifted = [dict(m, schema_id=43, offset=m["offset"] + 100_000) for m in SPRING.messages[:2]]
    other = [dict(m, topic="orders.updated", schema_id=44, offset=m["offset"] + 200_000) for m in SPRING.messages[:2]]
    assert client.post("/v1/gate/records", json=drifted + other).json()["held"] == 4
    requests = check(client, "GET", "/v1/change-requests")["items"]
    assert len(requests) == 2
    route = "/v1/change-requests/{cr_id}"
    check(client, "GET", f"/v1/change-requests/{requests[0]['id']}", route)
    check(client, "POST", f"/v1/change-requests/{requests[0]['id']}/approve", f"{route}/approve", json={})
    check(client, "POST", f"/v1/change-requests/{requests[1]['id']}/reject", f"{route}/reject", json={})
    again = check(client, "POST", "/v1/detect")  # at the same clock: on PostgreSQL no shard is due again
    assert [d["change_request_id"] for d in again["drift"]] == [requests[1]["id"]], "the rejected one is listed"

    marked = check(client, "POST", f"/v1/incidents/{incident['id']}/false-positive",
                   "/v1/incidents/{incident_id}/false-positive", json={"reason": "test traffic"})
    assert marked["false_positive"]["by"] == "auth-disabled"
    check(client, "GET", "/v1/quality")
    check(client, "GET", "/v1/quality", params={"by": "day"})
    check(client, "POST", "/api/v1/lineage", json=LINEAGE)
    batch = check(client, "POST", "/api/v1/lineage", json=[LINEAGE, {"eventType": "START"}])
    assert [r["status"] for r in batch["results"]] == ["duplicate", "rejected"]
