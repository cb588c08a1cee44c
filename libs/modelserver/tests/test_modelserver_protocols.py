"""The three scoring protocols against a real ONNX random forest, in-process."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
COLS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
Iris = tuple[np.ndarray[Any, Any], RandomForestClassifier]


def expected(iris: Iris) -> list[int]:
    return [int(v) for v in iris[1].predict(np.asarray(ROWS, dtype=np.float32))]


async def test_azure_score_with_data_and_inputs(serve: Any, iris_dir: Path, iris: Iris) -> None:
    async with serve(iris_dir) as http:
        plain = await http.post("/score", json={"data": ROWS})
        decorated = await http.post("/score", json={"Inputs": {"data": ROWS}})
        records = await http.post(
            "/score", json={"data": [dict(zip(COLS, r, strict=False)) for r in ROWS]}
        )
    assert plain.status_code == 200, plain.text
    assert plain.headers["modelops-bodies"] == "json"
    assert plain.json()["label"] == expected(iris)
    assert len(plain.json()["probabilities"]) == 2
    assert decorated.json() == {"Results": plain.json()}
    assert records.json() == plain.json()


async def test_oip_infer_nested_flat_and_versioned(serve: Any, iris_dir: Path, iris: Iris) -> None:
    tensor = {"name": "X", "shape": [2, 4], "datatype": "FP32"}
    async with serve(iris_dir) as http:
        nested = await http.post(
            "/v2/models/iris/infer", json={"id": "a", "inputs": [{**tensor, "data": ROWS}]}
        )
        flat = await http.post(
            "/v2/models/iris/versions/3/infer",
            json={
                "inputs": [{**tensor, "data": [v for r in ROWS for v in r]}],
                "outputs": [{"name": "label"}],
            },
        )
        wrong_version = await http.post("/v2/models/iris/versions/9/infer", json={})
        wrong_model = await http.post("/v2/models/other/infer", json={})
    assert nested.status_code == 200, nested.text
    body = nested.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("iris", "3", "a")
    label = next(o for o in body["outputs"] if o["name"] == "label")
    assert label == {"name": "label", "datatype": "INT64", "shape": [2], "data": expected(iris)}
    assert [o["name"] for o in flat.json()["outputs"]] == ["label"]
    assert flat.json()["outputs"][0]["data"] == expected(iris)
    assert wrong_version.status_code == 404
    assert "error" in wrong_version.json()
    assert wrong_model.status_code == 404


async def test_oip_health_and_metadata(serve: Any, iris_dir: Path) -> None:
    async with serve(iris_dir) as http:
        assert (await http.get("/v2/health/live")).json() == {"live": True}
        assert (await http.get("/v2/health/ready")).json() == {"ready": True}
        assert (await http.get("/v2/models/iris/ready")).json() == {"name": "iris", "ready": True}
        ready_v = await http.get("/v2/models/iris/versions/3/ready")
        server = (await http.get("/v2")).json()
        meta = (await http.get("/v2/models/iris")).json()
    assert ready_v.json()["ready"] is True
    assert server["name"] == "modelops-modelserver"
    assert "extensions" in server
    assert meta["platform"] == "onnx_onnxv1"
    assert meta["versions"] == ["3"]
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"] for o in meta["outputs"]} == {"label", "probabilities"}


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLS, "data": ROWS}},
        {"dataframe_split": {"columns": COLS[::-1], "data": [r[::-1] for r in ROWS]}},
        {"dataframe_records": [dict(zip(COLS, r, strict=False)) for r in ROWS]},
        {"instances": ROWS},
        {"inputs": ROWS},
    ],
    ids=["split", "split-reordered", "records", "instances", "inputs"],
)
async def test_mlflow_bodies(serve: Any, iris_dir: Path, iris: Iris, body: Any) -> None:
    async with serve(iris_dir) as http:
        resp = await http.post("/invocations", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"]["label"] == expected(iris)


async def test_mlflow_csv_and_content_types(serve: Any, iris_dir: Path, iris: Iris) -> None:
    csv = ",".join(COLS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"
    async with serve(iris_dir) as http:
        ok = await http.post("/invocations", content=csv, headers={"content-type": "text/csv"})
        utf8 = await http.post(
            "/invocations",
            json={"inputs": ROWS},
            headers={"content-type": "application/json; charset=utf-8"},
        )
        latin = await http.post(
            "/invocations", content=b"{}", headers={"content-type": "text/csv; charset=latin-1"}
        )
        xml = await http.post(
            "/invocations", content=b"<a/>", headers={"content-type": "application/xml"}
        )
        two_keys = await http.post("/invocations", json={"inputs": ROWS, "instances": ROWS})
        a_list = await http.post("/invocations", json=ROWS)
    assert ok.status_code == 200, ok.text
    assert ok.json()["predictions"]["label"] == expected(iris)
    assert utf8.status_code == 200
    # the gateway logs bodies verbatim only on this mark: a parsed JSON request, a JSON answer
    marks = (utf8.headers.get("modelops-bodies"), ok.headers.get("modelops-bodies"))
    assert marks == ("json", None)
    assert "modelops-bodies" not in two_keys.headers
    assert (latin.status_code, xml.status_code) == (415, 415)
    assert latin.json()["error_code"] == "BAD_REQUEST"
    assert two_keys.status_code == 400
    assert "exactly one of" in two_keys.json()["message"]
    assert a_list.status_code == 400


async def test_health_ping_openapi_and_metrics(serve: Any, iris_dir: Path) -> None:
    async with serve(iris_dir) as http:
        assert (await http.get("/ping")).status_code == 200
        assert (await http.get("/health")).status_code == 200
        await http.post("/score", json={"data": ROWS})
        doc = (await http.get("/openapi.json")).json()
        swagger = (await http.get("/swagger.json")).json()
        metrics = (await http.get("/metrics")).text
    assert doc == swagger
    data = doc["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    row = data["schema"]["properties"]["data"]["items"]
    assert row["minItems"] == row["maxItems"] == 4
    assert row["items"]["type"] == "number"
    assert "/v2/models/iris/infer" in doc["paths"]
    assert 'modelserver_request_duration_seconds_count{route="/score"} 1.0' in metrics
