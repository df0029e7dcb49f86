"""The CloudEvents spec's own examples (JSON format, HTTP binding) sent as the spec prints them, in structured and in
binary mode: each one's outcome is asserted. None is an rca evidence type (`com.example.someevent`), so what they
prove is that both modes are read alike and each refusal names the right thing; the accepting side of binary mode,
`data_base64` and a missing `time` is in tests/rca/test_cloudevents_modes.py."""

from __future__ import annotations

import pytest
from conformance._payloads import binding_requests, json_format_examples

EXAMPLES = {e.id: e for e in json_format_examples()}
TYPES = "must be one of DeploymentEvent"

# example -> (structured: status, field, phrase), (binary: status, field, phrase)
EXPECTED = {
    # data_base64 of a Thrift document: refused on data_base64 (evidence data is JSON); binary mode: 415, same reason
    "1:A234-1234-1234": ((422, "data_base64", "evidence data must be JSON"), (415, None, "evidence data is JSON")),
    # an XML string as data: the type decides first; binary mode with application/xml: 415
    "2:B234-1234-1234": ((422, "type", TYPES), (415, None, "not 'application/xml'")),
    # a JSON object as data: both modes read it alike and stop at the type
    "3:C234-1234-1234": ((422, "type", TYPES), (422, "type", TYPES)),
    # a JSON number, a JSON string as data: likewise
    "4:C234-1234-1234": ((422, "type", TYPES), (422, "type", TYPES)),
    "5:D234-1234-1234": ((422, "type", TYPES), (422, "type", TYPES)),
    # data_base64 without datacontenttype ({"xyz": 123}): decoded, then the type; its binary form has no
    # Content-Type, so nothing says the body is JSON: 415
    "6:D234-1234-1234": ((422, "type", TYPES), (415, None, "not '(none)'")),
}


def test_every_example_of_the_json_format_spec_is_covered() -> None:
    assert sorted(EXAMPLES) == sorted(EXPECTED)


def _check(response, expected: tuple[int, str | None, str]) -> None:  # type: ignore[no-untyped-def]
    status, field, phrase = expected
    assert response.status_code == status, response.text
    body = response.json()
    if status == 422 and "results" in body:
        [result] = body["results"]
        assert (result["status"], result["field"]) == ("rejected", field), result
        assert phrase in result["error"], result["error"]
    else:
        assert phrase in body["message"], body
        if field is not None:
            assert body.get("field") == field, body


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_json_format_examples_in_structured_mode(client, name: str) -> None:
    response = client.post("/v1/events", content=EXAMPLES[name].structured.encode(),
                           headers={"Content-Type": "application/cloudevents+json"})
    _check(response, EXPECTED[name][0])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_json_format_examples_in_binary_mode(client, name: str) -> None:
    example = EXAMPLES[name]
    response = client.post("/v1/events", content=example.body, headers=example.headers)
    _check(response, EXPECTED[name][1])


def test_the_http_binding_examples_are_read_in_their_mode(client) -> None:
    """The binding spec's requests hold placeholders ("... application data ..."), so none is JSON: each is refused
    as such, by the reader of its own mode (binary mode says so)."""
    outcomes = []
    for request in binding_requests():
        response = client.post("/v1/events", content=request.body, headers=request.headers)
        outcomes.append((request.title, response.status_code, response.json()["error"],
                         "binary-mode" in response.json()["message"]))
    assert outcomes == [("POST /someresource HTTP/1.1", 400, "malformed_json", True),
                        ("PUT /myresource HTTP/1.1", 400, "malformed_json", False),
                        ("PUT /myresource HTTP/1.1", 400, "malformed_json", False)]
