from typing import Any

import pytest

from support import bearer

SPECS = {
    "policies": {"dataset_urn": "ds://curated/orders_enriched", "producer_urn": "job://orders_enriched_batch",
                 "expected_update_by": "02:00", "timezone": "America/New_York", "grace_minutes": 10,
                 "watermark": {"dimension": "dt", "must_reach": "today", "format": "%Y-%m-%d"}, "schedule": "0 1 * * *",
                 "owner_team": "Orders Analytics", "tier": 1},
    "contracts": {"dataset_urn": "ds://orders_v1", "enforcement": "flag",
                  "schema": {"type": "object", "required": ["order_id"],
                             "properties": {"order_id": {"type": "string"}}}},
    "mappings": {"topic": "orders.created", "schema_id": 42, "dataset_urn": "ds://orders_v1",
                 "producer_urn": "svc://checkout-service"},
    "lineage-edges": {"upstream": "ds://orders_v1", "downstream": "ds://curated/orders_enriched"},
}
CHANGES = {"policies": {"grace_minutes": 20}, "contracts": {"enforcement": "reject"},
           "mappings": {"confidence": 0.8}, "lineage-edges": {"downstream": "ds://curated/orders_daily"}}


@pytest.mark.parametrize("plural", list(SPECS))
def test_create_read_update_delete(make_client, tokens, plural) -> None:
    client = make_client(auth=True)
    admin, reader = bearer(tokens["admin"]), bearer(tokens["reader"])
    created = client.post(f"/v1/{plural}", json=SPECS[plural], headers=admin)
    assert created.status_code == 201, created.text
    item = created.json()
    assert {k: item[k] for k in SPECS[plural]} == SPECS[plural]
    assert client.get(f"/v1/{plural}/{item['id']}", headers=reader).json() == item
    assert client.get(f"/v1/{plural}", headers=reader).json()["items"] == [item]
    changed = {**SPECS[plural], **CHANGES[plural]}
    updated = client.put(f"/v1/{plural}/{item['id']}", json=changed, headers=admin)
    assert updated.status_code == 200
    assert {k: updated.json()[k] for k in changed} == changed
    assert client.post(f"/v1/{plural}", json=SPECS[plural], headers=reader).status_code == 403
    assert client.delete(f"/v1/{plural}/{item['id']}", headers=reader).status_code == 403
    assert client.delete(f"/v1/{plural}/{item['id']}", headers=admin).status_code == 204
    missing = client.get(f"/v1/{plural}/{item['id']}", headers=reader)
    assert missing.status_code == 404 and f"id {item['id']}" in missing.json()["message"]


def test_posting_the_same_dataset_policy_again_replaces_it(client) -> None:
    first = client.post("/v1/policies", json=SPECS["policies"]).json()
    second = client.post("/v1/policies", json={**SPECS["policies"], "grace_minutes": 30}).json()
    assert first["id"] == second["id"]
    assert [p["grace_minutes"] for p in client.get("/v1/policies").json()["items"]] == [30]


@pytest.mark.parametrize(("plural", "bad", "field"), [
    ("policies", {"timezone": "Mars/Olympus"}, "timezone"),
    ("policies", {"expected_update_by": "25:00"}, "expected_update_by"),
    ("policies", {"schedule": "every night"}, "schedule"),
    ("contracts", {"enforcement": "block"}, "enforcement"),
    ("lineage-edges", {"upstream": ""}, "upstream"),
])
def test_invalid_configuration_names_the_field(client, plural, bad, field) -> None:
    response = client.post(f"/v1/{plural}", json={**SPECS[plural], **bad})
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert field in response.json()["message"]


def test_kill_switch_per_producer_and_per_domain(make_client, tokens) -> None:
    client = make_client(auth=True)
    admin, writer = bearer(tokens["admin"]), bearer(tokens["checkout"])
    producer = "svc://checkout-service"
    assert client.get(f"/v1/control/{producer}", headers=writer).status_code == 404
    assert client.put(f"/v1/control/{producer}", json={"ring": 1, "domain": "orders"}, headers=writer).status_code \
        == 403
    set_ = client.put(f"/v1/control/{producer}", json={"ring": 1, "domain": "orders"}, headers=admin)
    assert set_.json() == {"producer": producer, "domain": "orders", "enabled": True, "ring": 1, "killed": False}
    client.put("/v1/control-domains/orders", json={"killed": True}, headers=admin)
    seen = client.get("/v1/control/svc%3A%2F%2Fcheckout-service", headers=writer)
    assert seen.json() == {"producer": producer, "domain": "orders", "enabled": True, "ring": 1, "killed": True}
    # a producer with no entry of its own still obeys its domain when it names it
    assert client.get("/v1/control/svc://checkout-api?domain=orders", headers=writer).json()["killed"] is True
    assert client.get("/v1/control/svc://payments-service", headers=writer).status_code == 403


def test_a_producer_flag_per_environment_is_obeyed_by_an_sdk_that_names_its_environment(make_client, tokens,
                                                                                       clock) -> None:
    from evidence import put_environment_flag

    client = make_client(auth=True)
    admin, writer = bearer(tokens["admin"]), bearer(tokens["checkout"])
    producer = "svc://checkout-service"
    put_environment_flag(client.app.state.store, producer, "staging", True, clock())  # a ring promoted to staging
    put_environment_flag(client.app.state.store, producer, "prod", False, clock())

    def seen(env: str) -> Any:
        return client.get(f"/v1/control/{producer}", params={"env": env}, headers=writer)

    assert seen("staging").json() == {"producer": producer, "domain": None, "enabled": True, "ring": 0,
                                      "killed": False, "environment": "staging"}
    assert seen("prod").json()["enabled"] is False
    assert seen("dev").json()["enabled"] is False  # an environment the rollout never reached
    assert client.get(f"/v1/control/{producer}", headers=writer).status_code == 404  # no env: no switch to obey
    client.put(f"/v1/control/{producer}", json={"killed": True}, headers=admin)  # the kill switch still wins
    assert (seen("staging").json()["enabled"], seen("staging").json()["killed"]) == (True, True)
    client.put(f"/v1/control/{producer}", json={"enabled": False}, headers=admin)
    assert seen("staging").json()["enabled"] is False
    # an environment no rollout can name is one it never reached; it is answered, never refused, so the kill
    # switch reaches an SDK whatever its AUTOPILOT_ENV holds
    client.put(f"/v1/control/{producer}", json={"enabled": True, "killed": True}, headers=admin)
    for odd in ("no such env!", "x" * 5000, "é/ü"):  # (an environment variable cannot hold a NUL)
        answer = seen(odd)
        assert answer.status_code == 200 and answer.json()["environment"] == odd, odd
        assert (answer.json()["enabled"], answer.json()["killed"]) == (False, True)


def test_a_second_rule_for_the_same_records_and_another_dataset_is_refused(client) -> None:
    first = client.post("/v1/mappings", json=SPECS["mappings"]).json()
    clash = client.post("/v1/mappings", json={**SPECS["mappings"], "dataset_urn": "ds://orders_legacy"})
    assert clash.status_code == 409
    assert f"PUT /v1/mappings/{first['id']}" in clash.json()["message"]
    assert [m["dataset_urn"] for m in client.get("/v1/mappings").json()["items"]] == ["ds://orders_v1"]
    same = client.post("/v1/mappings", json={**SPECS["mappings"], "confidence": 0.9})
    assert same.status_code == 201 and same.json()["id"] == first["id"]
