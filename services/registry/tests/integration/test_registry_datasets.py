"""Datasets: CSV and Parquet versions with a profile, announced on the bus."""

import hashlib
import io
from typing import Any

import httpx
import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type information
import pytest

from modelops_contracts.events import DatasetVersionRegistered
from modelops_testkit.probe import BusProbe

pytestmark = pytest.mark.integration


async def _register(http: httpx.AsyncClient, name: str, files: dict[str, bytes]) -> httpx.Response:
    manifest = []
    for path, data in files.items():
        sha = hashlib.sha256(data).hexdigest()
        assert (await http.put(f"/v1/blobs/{sha}", content=data)).status_code in (200, 201)
        manifest.append({"path": path, "sha256": sha, "size": len(data)})
    return await http.post(f"/v1/datasets/{name}/versions", json={"files": manifest})


async def test_a_csv_folder_is_profiled_and_announced(
    registry: httpx.AsyncClient, bus_probe: BusProbe
) -> None:
    part1 = b"age,city\n30,paris\n40,paris\n"
    part2 = b"age,city\n50,lyon\n,paris\n"
    resp = await _register(registry, "customers", {"a.csv": part1, "b.csv": part2})
    assert resp.status_code == 201, resp.text
    profile: dict[str, Any] = resp.json()["profile"]
    assert profile["row_count"] == 4
    age, city = profile["columns"]
    assert (age["name"], age["kind"], age["null_count"]) == ("age", "numeric", 1)
    assert (age["min"], age["max"], age["mean"]) == (30.0, 50.0, 40.0)
    assert city["top_values"][0] == {"value": "paris", "count": 3}
    event = await bus_probe.expect(DatasetVersionRegistered)
    assert (event.dataset_name, event.version, event.format) == ("customers", 1, "csv")
    assert (event.row_count, event.columns) == (4, ["age", "city"])
    latest = await registry.get("/v1/datasets/customers/versions/latest")
    assert latest.json()["content_digest"] == resp.json()["content_digest"]
    listing = (await registry.get("/v1/datasets/customers/versions/1/files")).json()
    assert [(f["path"], f["size"]) for f in listing["files"]] == [("a.csv", 27), ("b.csv", 24)]
    assert all(f["url"].startswith("http") for f in listing["files"])  # signed store links


async def test_a_parquet_file_is_profiled_and_mixed_formats_refused(
    registry: httpx.AsyncClient,
) -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "flag": [True, False, True]}).to_parquet(buffer)
    resp = await _register(registry, "features", {"f.parquet": buffer.getvalue()})
    assert resp.status_code == 201, resp.text
    columns = resp.json()["profile"]["columns"]
    assert [(c["name"], c["kind"]) for c in columns] == [("x", "numeric"), ("flag", "categorical")]
    mixed = await _register(
        registry, "features", {"a.csv": b"x\n1\n", "b.parquet": buffer.getvalue()}
    )
    assert mixed.status_code == 400
    assert "mixes" in mixed.json()["detail"]
    listed = (await registry.get("/v1/datasets", params={"name": "features"})).json()
    assert [d["version"] for d in listed["items"]] == [1]
