"""W3C Trace Context: parse per the spec, continue an incoming trace, start one at the edge."""

from __future__ import annotations

import pytest

from autopilot import continue_trace, current_traceparent, parse_traceparent, start_trace, use_trace

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_parsed():
    context = parse_traceparent(VALID)
    assert (context.trace_id, context.span_id, context.sampled) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        True,
    )
    assert context.traceparent == VALID


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is forbidden
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # upper case is not allowed
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 is exactly 55 chars
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    ],
)
def test_an_invalid_traceparent_is_ignored(value):
    assert parse_traceparent(value) is None


def test_a_future_version_is_read_by_its_first_four_fields():
    context = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
    assert context is not None and context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x") is None


@pytest.mark.parametrize(
    "incoming",
    [
        VALID,
        VALID.encode(),
        {"TraceParent": VALID, "other": "x"},
        [("content-type", b"json"), ("traceparent", VALID.encode())],
    ],
)
def test_continuing_keeps_the_trace_and_makes_a_new_span(incoming):
    context = continue_trace(incoming)
    assert context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.span_id != "00f067aa0ba902b7" and len(context.span_id) == 16
    assert context.sampled


def test_the_sampled_flag_is_carried_over():
    assert continue_trace(VALID[:-2] + "00").sampled is False


@pytest.mark.parametrize("incoming", [None, "garbage", {}, [("x", b"y")]])
def test_with_nothing_valid_to_continue_a_new_trace_starts(incoming):
    context = continue_trace(incoming)
    assert parse_traceparent(context.traceparent) == context


def test_started_traces_are_random_and_valid():
    contexts = {start_trace().trace_id for _ in range(100)}
    assert len(contexts) == 100
    assert all(parse_traceparent(start_trace().traceparent) for _ in range(10))


def test_the_trace_in_use_is_scoped_to_the_block():
    assert current_traceparent() is None
    context = start_trace()
    with use_trace(context):
        assert current_traceparent() == context.traceparent
    assert current_traceparent() is None
