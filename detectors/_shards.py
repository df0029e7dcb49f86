"""Datasets into shards by a hash of their URN: the unit of work detector processes lease (detectors/_leases.py)."""

from __future__ import annotations

import hashlib

SHARDS = 32  # the rows of detector_shards (migration 0008)


def shard_of(dataset_urn: str) -> int:
    """The shard of a dataset: the same in every process and on every run (unlike hash())."""
    return int.from_bytes(hashlib.blake2b(dataset_urn.encode(), digest_size=4).digest(), "big") % SHARDS
