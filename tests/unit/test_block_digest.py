"""The block digest the SDK checks downloads by is S3's composite SHA-256 of the parts."""

import hashlib
import os

import pytest

from modelops_client.transfer import BlockHasher

PART = 5 * 1024 * 1024


def composite(data: bytes) -> str:
    """SHA-256 over the parts' SHA-256s (one empty part for empty data)."""
    parts = [data[i : i + PART] for i in range(0, len(data), PART)] or [b""]
    return hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).hexdigest()


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 3 * PART + 17])
@pytest.mark.parametrize("chunk", [1 << 20, 3 * 1024 * 1024 + 7, PART, 2 * PART + 1])
def test_any_chunking_gives_the_composite_of_the_parts(size: int, chunk: int) -> None:
    data = os.urandom(size)
    hasher = BlockHasher(PART)
    for i in range(0, len(data), chunk):
        hasher.update(data[i : i + chunk])
    assert hasher.hexdigest() == composite(data)
