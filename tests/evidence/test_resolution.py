from evidence import Mapping, ReasonCode
from evidence._resolution import Resolved, Unresolved, resolve

ORDERS = Mapping(topic="orders.created", schema_id=42, dataset_urn="ds://orders_v1",
                 producer_urn="svc://checkout-service")
HINT = {"autopilot-producer": "svc://checkout-service"}


def test_a_matching_rule_resolves_with_its_confidence() -> None:
    assert resolve([ORDERS], "orders.created", 42, HINT) == Resolved("ds://orders_v1", "svc://checkout-service", 1.0,
                                                                     ORDERS)


def test_a_producer_header_that_disagrees_halves_the_confidence() -> None:
    outcome = resolve([ORDERS], "orders.created", "42", {"autopilot-producer": "svc://cart-node"})
    assert isinstance(outcome, Resolved) and outcome.confidence == 0.5


def test_a_new_schema_on_a_mapped_topic_is_drift_proposing_the_same_dataset() -> None:
    outcome = resolve([ORDERS], "orders.created", 43, HINT)
    assert isinstance(outcome, Unresolved)
    assert outcome.reason_code == ReasonCode.UNMAPPED_SCHEMA
    assert outcome.proposal == Mapping(topic="orders.created", schema_id=43, dataset_urn="ds://orders_v1",
                                       producer_urn="svc://checkout-service")
    assert outcome.detail["known_schema_ids"] == ["42"]


def test_an_unknown_topic_is_unmapped_and_proposes_a_dataset_named_after_it() -> None:
    outcome = resolve([ORDERS], "carts.updated", 7, {"autopilot-producer": "svc://cart-node"})
    assert isinstance(outcome, Unresolved) and outcome.reason_code == ReasonCode.UNMAPPED_SCHEMA
    assert (outcome.proposal.dataset_urn, outcome.proposal.producer_urn) == ("ds://carts.updated", "svc://cart-node")


def test_two_rules_for_different_datasets_are_ambiguous_and_the_proposal_pins_the_producer() -> None:
    legacy = Mapping(topic="orders.created", schema_id=42, dataset_urn="ds://orders_legacy",
                     producer_urn="svc://legacy-orders")
    outcome = resolve([ORDERS, legacy], "orders.created", 42, HINT)
    assert isinstance(outcome, Unresolved) and outcome.reason_code == ReasonCode.MAPPING_AMBIGUOUS
    assert outcome.proposal.dataset_urn == "ds://orders_v1"
    assert outcome.proposal.headers == HINT
    assert outcome.detail["candidates"] == ["ds://orders_legacy", "ds://orders_v1"]


def test_a_more_specific_rule_wins_over_a_topic_wide_one() -> None:
    topic_wide = Mapping(topic="orders.created", dataset_urn="ds://orders_any")
    by_header = Mapping(topic="orders.created", schema_id=42, headers={"autopilot-env": "staging"},
                        dataset_urn="ds://orders_staging")
    assert resolve([topic_wide, ORDERS], "orders.created", 42, {}).dataset_urn == "ds://orders_v1"  # type: ignore[union-attr]
    staging = resolve([topic_wide, ORDERS, by_header], "orders.created", 42, {"autopilot-env": "staging"})
    assert staging.dataset_urn == "ds://orders_staging"  # type: ignore[union-attr]
    assert resolve([topic_wide], "orders.created", 99, {}).dataset_urn == "ds://orders_any"  # type: ignore[union-attr]
