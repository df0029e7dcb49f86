"""Processed Kafka offsets as a few disjoint ranges per partition: deduplication without a row per record.

Offsets in a partition are dense, so redelivered or shuffled records leave at most a handful of gaps
that close as delivery catches up; a million records in order are one range.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

Ranges = list[tuple[int, int]]  # sorted, disjoint, inclusive [first, last]


def covered(ranges: Ranges, offset: int) -> bool:
    i = bisect.bisect_right(ranges, (offset, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= offset <= ranges[i][1]


def add_offsets(ranges: Ranges, offsets: Iterable[int]) -> Ranges:
    """The union of the ranges and the offsets, merged so that adjacent ranges become one."""
    merged: Ranges = []
    for first, last in sorted([*ranges, *((o, o) for o in offsets)]):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged
