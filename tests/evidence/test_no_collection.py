"""evidence.no_collection pauses the cyclic garbage collector for a detector pass and gives back the state it found,
whether the pass ends or raises."""

from __future__ import annotations

import gc

import pytest

from evidence import no_collection


def test_the_collector_is_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with no_collection():
        assert not gc.isenabled()
        with no_collection():  # nested: the inner one leaves it paused for the outer
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pass_that_raises_restores_the_collector() -> None:
    with pytest.raises(ValueError), no_collection():
        raise ValueError("a pass that fails")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_application_stays_off() -> None:
    gc.disable()
    try:
        with no_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
