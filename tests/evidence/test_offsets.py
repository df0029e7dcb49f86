import random

from hypothesis import given
from hypothesis import strategies as st

from evidence._offsets import add_offsets, covered


def test_in_order_offsets_are_one_range() -> None:
    assert add_offsets([], range(1_000_000, 1_010_000)) == [(1_000_000, 1_009_999)]


def test_gaps_close_as_delivery_catches_up() -> None:
    ranges = add_offsets([], [1, 2, 3, 7, 8])
    assert ranges == [(1, 3), (7, 8)]
    assert covered(ranges, 2) and not covered(ranges, 5) and not covered(ranges, 0)
    assert add_offsets(ranges, [4, 5, 6]) == [(1, 8)]


@given(st.lists(st.integers(0, 200), max_size=300), st.randoms())
def test_ranges_cover_exactly_the_offsets_added_in_any_order(offsets: list[int], rnd: random.Random) -> None:
    shuffled = offsets[:]
    rnd.shuffle(shuffled)
    ranges: list[tuple[int, int]] = []
    cut = rnd.randint(0, len(shuffled))
    for part in (shuffled[:cut], shuffled[cut:], offsets[: len(offsets) // 2]):
        ranges = add_offsets(ranges, part)
    assert ranges == add_offsets([], offsets)
    assert all(covered(ranges, o) == (o in set(offsets)) for o in range(-1, 202))
