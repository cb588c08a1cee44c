"""What the SDK checks a download by: the file's BLAKE3 if its entry has one, else the block
digest (S3's composite SHA-256 of the parts), else its sha256."""

import hashlib
import os

import blake3
import pytest

from modelops_client.http import ModelOpsClientError
from modelops_client.transfer import BlockHasher, Verifier
from modelops_contracts.api.registry import BlockDigest, FileEntry

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


@pytest.mark.parametrize("kind", ["blake3", "block digest", "sha256"])
def test_a_download_is_checked_by_the_fastest_digest_its_entry_has(kind: str) -> None:
    data = os.urandom(2 * PART + 3)
    blocks = BlockDigest(part_size=PART, sha256=composite(data)) if kind != "sha256" else None
    b3 = blake3.blake3(data).hexdigest() if kind == "blake3" else None
    entry = FileEntry(path="w", sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    entry = entry.model_copy(update={"blocks": blocks, "blake3": b3})
    good, bad = Verifier(entry), Verifier(entry)
    good.update(data)
    good.check()
    bad.update(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelOpsClientError, match=f"w: downloaded {kind} "):
        bad.check()
