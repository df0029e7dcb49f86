"""The API's answers to what issue 16 found by hand and with schemathesis: each a 4xx naming the field, and an
OpenAPI description that lists every status an operation can give (the fuzzing itself: tests/e2e)."""

from __future__ import annotations

import json

from support import ROOT


def test_the_500s_found_by_hand_are_4xx_naming_the_field(client) -> None:
    assert client.get("/v1/incidents", params={"tier": "99999999999999999999"}).status_code == 422
    answer = client.post("/v1/policies", json={"dataset_urn": "ds://zz", "expected_update_by": False})
    assert (answer.status_code, answer.json()["field"]) == (422, "expected_update_by")
    answer = client.get("/v1/evidence", params={"until": "0.5"})
    assert (answer.status_code, answer.json()["field"]) == (422, "query.until")
    assert "RFC 3339" in answer.json()["message"]
    assert client.get("/v1/evidence", params={"until": "2026-03-10T10:00:00Z"}).status_code == 200
    for bad in ({"upstream": "not a urn", "downstream": "ds://b"}, {"upstream": "ds://a", "downstream": "ds://b\x00"}):
        assert client.post("/v1/lineage-edges", json=bad).status_code == 422


def test_a_put_onto_another_items_natural_key_is_a_409_naming_it(client) -> None:
    first = client.post("/v1/lineage-edges", json={"upstream": "ds://a", "downstream": "ds://b"}).json()["id"]
    second = client.post("/v1/lineage-edges", json={"upstream": "ds://a", "downstream": "ds://c"}).json()["id"]
    answer = client.put(f"/v1/lineage-edges/{second}", json={"upstream": "ds://a", "downstream": "ds://b"})
    assert (answer.status_code, answer.json()["id"]) == (409, first)
    assert f"PUT /v1/lineage-edges/{first}" in answer.json()["message"]
    first = client.post("/v1/mappings", json={"topic": "t1", "dataset_urn": "ds://a"}).json()["id"]
    second = client.post("/v1/mappings", json={"topic": "t2", "dataset_urn": "ds://a"}).json()["id"]
    assert client.put(f"/v1/mappings/{second}", json={"topic": "t1", "dataset_urn": "ds://a"}).status_code == 409


def test_not_found_names_the_real_path(client) -> None:
    for plural in ("lineage-edges", "policies", "mappings", "contracts"):
        answer = client.get(f"/v1/{plural}/999")
        assert answer.status_code == 404 and f"GET /v1/{plural}." in answer.json()["message"]


def test_booleans_are_not_numbers_and_numbers_not_booleans(client) -> None:
    assert client.post("/v1/contracts", json={"dataset_urn": "ds://a", "schema": {}, "tier": False}).status_code == 422
    assert client.post("/v1/mappings", json={"topic": "t", "dataset_urn": "ds://a", "confidence": False}
                       ).status_code == 422
    assert client.put("/v1/control-domains/d", json={"ring": False}).status_code == 422
    assert client.put("/v1/control-domains/d", json={"killed": 0}).status_code == 422
    assert client.post("/v1/gate/records", json="AAA").status_code == 400


def test_a_method_not_allowed_says_which_are(client) -> None:
    answer = client.request("TRACE", "/healthz")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET"


def test_every_operation_lists_its_error_statuses_with_the_error_schema(client) -> None:
    served = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(served)
    for path, item in served["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            expected = {"400", "422", "503"} | ({"401", "403"} if path != "/healthz" else set())
            assert expected <= codes, (method, path, codes)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "put"):
                assert {"409", "413", "415"} <= codes, (method, path)
            error = operation["responses"]["401" if path != "/healthz" else "400"]["content"]["application/json"]
            assert error["schema"] == {"$ref": "#/components/schemas/Error"}


def test_response_models_carry_the_patterns_and_versions_agree(client) -> None:
    served = client.get("/openapi.json").json()
    schemas = served["components"]["schemas"]
    policy = schemas["StoredFreshnessPolicy"]["properties"]
    assert policy["expected_update_by"]["anyOf"][0]["pattern"] == r"^([01]?\d|2[0-3]):([0-5]\d)$"
    assert policy["dataset_urn"]["pattern"].startswith("^[a-z][a-z0-9+.-]*://")
    edge = served["paths"]["/v1/lineage-edges/{config_id}"]["get"]["responses"]["200"]
    assert edge["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/StoredLineageEdge"}
    published = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served["info"]["version"] == published["info"]["version"]
