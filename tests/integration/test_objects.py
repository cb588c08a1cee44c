"""The artifact store against a real MinIO: streaming, digests, folders, corruption."""

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from minio.commonconfig import REPLACE, CopySource

from modelops_servicekit.errors import Invalid
from modelops_servicekit.objects import PART_SIZE, MinioObjectStore, blob_key

pytestmark = pytest.mark.integration


async def test_a_multipart_file_round_trips_with_its_sha256_verified(
    object_store: MinioObjectStore, tmp_path: Path
) -> None:
    data = os.urandom(PART_SIZE * 2 + 12345)  # three parts
    src = tmp_path / "model.onnx"
    src.write_bytes(data)

    stored = await object_store.put_file(src)

    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.key == blob_key(stored.sha256)  # content-addressed
    assert (await object_store.stat(stored.key)) == stored
    again = await object_store.put_file(src)  # same content: stored once
    assert again == stored
    out = tmp_path / "out.onnx"
    got = await object_store.get_file(stored.key, out)
    assert out.read_bytes() == data
    assert got.sha256 == stored.sha256


async def chunks(data: bytes, size: int = 300_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_a_stream_of_unknown_length_is_uploaded_and_a_wrong_digest_refused(
    object_store: MinioObjectStore,
) -> None:
    data = os.urandom(PART_SIZE + 777)
    sha = hashlib.sha256(data).hexdigest()

    stored = await object_store.put_stream("uploads/a.bin", chunks(data), expected_sha256=sha)
    assert (stored.size, stored.sha256) == (len(data), sha)
    assert b"".join([c async for c in object_store.get_stream("uploads/a.bin")]) == data

    with pytest.raises(Invalid, match="sha256 mismatch"):
        await object_store.put_stream("uploads/b.bin", chunks(data), expected_sha256="0" * 64)
    assert await object_store.stat("uploads/b.bin") is None  # nothing half-written is left


async def test_a_corrupt_object_fails_verification_and_leaves_no_file(
    object_store: MinioObjectStore, tmp_path: Path
) -> None:
    await object_store.put_stream("y.bin", chunks(b"hello"))
    bucket = object_store.bucket
    object_store.client.copy_object(  # rewrite the recorded digest: the bytes no longer match it
        bucket,
        "y.bin",
        CopySource(bucket, "y.bin"),
        metadata={"sha256": "f" * 64},
        metadata_directive=REPLACE,
    )
    with pytest.raises(Invalid, match="corrupt"):
        await object_store.get_file("y.bin", tmp_path / "y.bin")
    assert not (tmp_path / "y.bin").exists()
    assert not (tmp_path / "y.bin.partial").exists()


async def test_a_folder_is_many_objects_under_one_prefix(
    object_store: MinioObjectStore, tmp_path: Path
) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "model.onnx").write_bytes(b"onnx-bytes")
    (src / "sub" / "vocab.txt").write_text("a\nb\n")

    stored = await object_store.put_folder(src, "models/churn/1")

    assert sorted(s.key for s in stored) == [
        "models/churn/1/model.onnx",
        "models/churn/1/sub/vocab.txt",
    ]
    dst = tmp_path / "copy"
    await object_store.get_folder("models/churn/1", dst)
    assert (dst / "sub" / "vocab.txt").read_text() == "a\nb\n"
    assert (dst / "model.onnx").read_bytes() == b"onnx-bytes"
    (tmp_path / "empty").mkdir()
    with pytest.raises(Invalid, match="empty"):
        await object_store.put_folder(tmp_path / "empty", "models/none/1")
