"""Bad payloads answer 400 with the exact problem; model failures 500 with an error id."""

import json
import logging
from pathlib import Path
from typing import Any

import pytest

ROW = [5.1, 3.5, 1.4, 0.2]


def write_meta(folder: Path, **meta: Any) -> None:
    (folder / "modelserver.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": [[1.0, 2.0]]}, "dimension 1 is 2, the model expects 4"),
        ({"data": [["a", 1, 2, 3]]}, "expected numbers (FP32), got strings"),
        ({"data": [[1, 2, 3, 4], [1, 2]]}, "unequal lengths"),
        ({"data": [[[1, 2, 3, 4]]]}, "expected 2 dimensions"),
        ({"data": None}, "data is missing"),
        ({"rows": [ROW]}, '{"data": ...}'),
        ({"data": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3}]}, "petal_width"),
        ({"data": [[True, False, True, False]]}, "got booleans"),
    ],
    ids=["width", "type", "ragged", "rank", "null", "no-data", "missing-column", "bools"],
)
async def test_score_rejects_with_reason(
    serve: Any, iris_dir: Path, body: Any, message: str
) -> None:
    async with serve(iris_dir) as http:
        resp = await http.post("/score", json=body)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


async def test_not_json_is_400(serve: Any, iris_dir: Path) -> None:
    async with serve(iris_dir) as http:
        resp = await http.post("/score", content=b"{nope")
    assert resp.status_code == 400
    assert "not valid JSON" in resp.json()["error"]


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        ({"name": "X", "shape": [1, 4], "datatype": "FP64", "data": ROW}, "does not match"),
        ({"name": "X", "shape": [2, 4], "datatype": "FP32", "data": ROW}, "holds 8 elements"),
        ({"name": "Y", "shape": [1, 4], "datatype": "FP32", "data": ROW}, "unknown input 'Y'"),
        ({"name": "X", "shape": [1, 4], "datatype": "FP32"}, "missing field 'data'"),
        ({"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ["a"] * 4}, "got strings"),
    ],
    ids=["datatype", "shape", "name", "no-data", "type"],
)
async def test_oip_rejects_with_reason(
    serve: Any, iris_dir: Path, tensor: dict[str, Any], message: str
) -> None:
    async with serve(iris_dir) as http:
        resp = await http.post("/v2/models/iris/infer", json={"inputs": [tensor]})
        empty = await http.post("/v2/models/iris/infer", json={"inputs": []})
    assert resp.status_code == 400
    assert message in resp.json()["error"]
    assert empty.status_code == 400
    assert "missing input 'X'" in empty.json()["error"]


async def test_mlflow_missing_column_is_400(serve: Any, iris_dir: Path) -> None:
    body = {"dataframe_split": {"columns": ["sepal_length"], "data": [[1.0]]}}
    async with serve(iris_dir) as http:
        resp = await http.post("/invocations", json=body)
    assert resp.status_code == 400
    assert "missing column 'sepal_width'" in resp.json()["message"]


async def test_model_exception_is_500_with_logged_id_and_serving_goes_on(
    serve: Any, script_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="modelops_modelserver")
    async with serve(script_dir) as http:
        failed = await http.post("/score", json={"data": [[-1.0, 1, 1, 1]]})
        after = await http.post("/score", json={"data": [ROW]})
    assert failed.status_code == 500
    error_id = failed.json()["error_id"]
    assert error_id in failed.json()["error"]
    assert any(getattr(r, "fields", {}).get("error_id") == error_id for r in caplog.records)
    assert after.status_code == 200
    assert after.json() == {"predictions": [0]}


async def test_request_timeout_is_504(serve: Any, tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text("import time\ndef run(data):\n    time.sleep(0.5)\n")
    write_meta(tmp_path, name="slow", entry_script="score.py")
    async with serve(tmp_path, request_timeout_s=0.1) as http:
        resp = await http.post("/score", json={"data": 1})
    assert resp.status_code == 504
    assert "did not answer within" in resp.json()["error"]


async def test_overload_is_429(serve: Any, tmp_path: Path) -> None:
    import asyncio

    script = "import time\ndef run(data):\n    time.sleep(0.3)\n    return 1\n"
    (tmp_path / "score.py").write_text(script)
    write_meta(tmp_path, name="busy", entry_script="score.py")
    async with serve(tmp_path, max_concurrency=1, max_pending=2) as http:
        replies = await asyncio.gather(*(http.post("/score", json={"data": i}) for i in range(4)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200, 429, 429]
