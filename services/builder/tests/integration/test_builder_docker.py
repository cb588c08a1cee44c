"""Done-when on the real Docker engine: a sklearn model registered, converted to ONNX (outputs
match), packaged, built, run and scored over the three protocols; a second version rebuilds in a
fraction of the first build's time; a score.py model works the same way; bad payloads get 400s."""

import pickle
import time
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from modelops_contracts.events import ImageBuilt
from modelops_testkit.probe import BusProbe

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.timeout(1500)]
COLS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
Iris = tuple[np.ndarray[Any, Any], RandomForestClassifier]
SCORE_PY = """
import os, pickle
model = None

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"), "rb") as f:
        model = pickle.load(f)

def run(data):
    return {"predictions": model.predict(data).tolist()}
"""


async def build(builder: httpx.AsyncClient, package_id: str) -> tuple[dict[str, Any], float, str]:
    """Build with the log streamed (as the CLI shows it); (package, seconds, log)."""
    started = time.monotonic()
    lines = []
    async with builder.stream("POST", f"/v1/packages/{package_id}/build?follow=true") as resp:
        assert resp.status_code == 200
        async for line in resp.aiter_lines():
            lines.append(line)
    seconds = time.monotonic() - started
    log = "\n".join(lines)
    assert "status: built" in log, log[-3000:]
    pkg = (await builder.get(f"/v1/packages/{package_id}")).json()
    return pkg, seconds, log


async def score_three_ways(url: str, rows: list[list[float]]) -> list[Any]:
    tensor = {"name": "X", "shape": [len(rows), 4], "datatype": "FP32", "data": rows}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        azure = await http.post("/score", json={"data": rows})
        mlflow = await http.post(
            "/invocations", json={"dataframe_split": {"columns": COLS, "data": rows}}
        )
        oip_path = "/v2/models/iris/infer"
        meta = (await http.get("/v2/models/iris")).json()
        tensor["name"] = meta["inputs"][0]["name"]
        tensor["datatype"] = meta["inputs"][0]["datatype"]
        oip = await http.post(oip_path, json={"inputs": [tensor]})
    for resp in (azure, mlflow, oip):
        assert resp.status_code == 200, resp.text
    return [azure.json(), mlflow.json(), oip.json()]


async def assert_bad_payloads_get_reasons(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        short = await http.post("/score", json={"data": [[1.0, 2.0]]})
        text = await http.post("/score", json={"data": [["a", 1, 2, 3]]})
        missing = await http.post("/invocations", json={"dataframe_records": [{"sepal_length": 1}]})
    assert short.status_code == text.status_code == missing.status_code == 400
    assert "dimension 1 is 2, the model expects 4" in short.json()["error"]
    assert "expected numbers" in text.json()["error"]
    assert "missing column" in missing.json()["message"]


async def test_sklearn_converted_packaged_built_run_and_scored(
    builder: httpx.AsyncClient,
    register: Any,
    run_image: Any,
    iris_model: Iris,
    bus_probe: BusProbe,
) -> None:
    x, model = iris_model
    await register("iris", {"model.pkl": pickle.dumps(model)}, framework="sklearn", trusted=True)
    conv = await builder.post(
        "/v1/conversions", json={"model": "iris", "version": "1", "sample_input": x[::5].tolist()}
    )
    assert conv.status_code == 201, conv.text
    check = conv.json()["check"]
    assert check["passed"]
    assert check["max_abs_diff"] <= 1e-4
    assert check["label_agreement"] == 1.0
    onnx_version = conv.json()["target_version"]

    schema = {"inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 4], "columns": COLS}]}
    body = {"model": "iris", "version": str(onnx_version), "sample_input": x[:1].tolist()}
    pkg = (await builder.post("/v1/packages", json=body | {"schema": schema})).json()
    first, first_s, first_log = await build(builder, pkg["id"])
    event = await bus_probe.expect(
        ImageBuilt, where=lambda e: e.package_id == pkg["id"], timeout=30
    )
    assert event.image == first["image"]["tag"]

    url = await run_image(first["image"]["tag"])
    rows = x[[0, 60, 120]].tolist()
    azure, mlflow, oip = await score_three_ways(url, rows)
    expected = model.predict(np.asarray(rows, dtype=np.float32)).tolist()
    assert azure["label"] == mlflow["predictions"]["label"] == expected
    assert next(o for o in oip["outputs"] if o["name"] == "label")["data"] == expected
    await assert_bad_payloads_get_reasons(url)

    # A second version on the same environment: only the model layer is new.
    retrained = RandomForestClassifier(n_estimators=20, random_state=1).fit(x, model.predict(x))
    await register(
        "iris",
        {"model.pkl": pickle.dumps(retrained)},
        framework="sklearn",
        trusted=True,
        tags={"retrain": "2"},
    )
    conv2 = await builder.post("/v1/conversions", json={"model": "iris", "version": "latest"})
    assert conv2.status_code == 201, conv2.text
    pkg2 = (
        await builder.post(
            "/v1/packages",
            json=body | {"version": str(conv2.json()["target_version"]), "schema": schema},
        )
    ).json()
    _second, second_s, log2 = await build(builder, pkg2["id"])
    assert "environment: reusing" in log2
    print(f"\nBUILD TIMES: first {first_s:.1f} s, second version {second_s:.1f} s")
    assert second_s < 30
    if "environment: building" in first_log:  # a cold first build (wheels + environment layer)
        assert second_s < first_s / 3

    # The same manifest never builds twice: the image is reused.
    again = (await builder.post(f"/v1/packages/{pkg2['id']}/build")).json()
    assert again["started"] is False
    assert again["status"] == "built"


async def test_score_py_model_builds_and_scores_the_same_way(
    builder: httpx.AsyncClient, register: Any, run_image: Any, iris_model: Iris
) -> None:
    x, model = iris_model
    await register("iris", {"model.pkl": pickle.dumps(model)}, framework="sklearn", trusted=True)
    schema = {"inputs": [{"name": "X", "datatype": "FP64", "shape": [-1, 4], "columns": COLS}]}
    body = {
        "model": "iris",
        "version": "1",
        "entry_script": SCORE_PY,
        "schema": schema,
        "requirements": ["scikit-learn==1.9.1"],
    }
    pkg = (await builder.post("/v1/packages", json=body)).json()
    built, seconds, _ = await build(builder, pkg["id"])
    print(f"\nscore.py image built in {seconds:.1f} s")
    url = await run_image(built["image"]["tag"])
    rows = x[[0, 60, 120]].tolist()
    azure, mlflow, oip = await score_three_ways(url, rows)
    expected = model.predict(np.asarray(rows)).tolist()
    assert azure == {"predictions": expected}
    assert mlflow == {"predictions": {"predictions": expected}}
    out = oip["outputs"][0]
    assert out["name"] == "predictions"
    assert out["data"] == expected
    await assert_bad_payloads_get_reasons(url)


async def test_conversion_refused_without_converter(
    builder: httpx.AsyncClient, register: Any
) -> None:
    await register("blob", {"model.bin": b"\x00" * 16}, framework="custom")
    resp = await builder.post("/v1/conversions", json={"model": "blob", "version": "1"})
    assert resp.status_code == 400
    assert "no ONNX converter for framework 'custom'" in resp.json()["detail"]


async def test_auto_build_and_profile(
    builder: httpx.AsyncClient, register: Any, iris_model: Iris, bus_probe: BusProbe
) -> None:
    x, model = iris_model
    on = await builder.put(
        "/v1/packages/auto-build/iris-auto",
        json={"entry_script": SCORE_PY, "requirements": ["scikit-learn==1.9.1"]},
    )
    assert on.status_code == 200
    await register("iris-auto", {"model.pkl": pickle.dumps(model)}, framework="sklearn",
                   trusted=True)  # fmt: skip
    built = await bus_probe.expect(ImageBuilt, where=lambda e: e.model_name == "iris-auto",
                                   timeout=600)  # fmt: skip
    assert built.version == 1

    profile = await builder.post("/v1/profiles", json={
        "package_id": built.package_id, "levels": [1, 4], "seconds_per_level": 2,
        "latency_target_ms": 100, "sample_input": x[:1].tolist(), "cpus": 1.0,
    })  # fmt: skip
    assert profile.status_code == 201, profile.text
    doc = profile.json()
    assert [lv["concurrency"] for lv in doc["levels"]] == [1, 4]
    assert all(lv["requests"] > 0 and lv["errors"] == 0 for lv in doc["levels"])
    assert doc["levels"][0]["peak_memory_mb"] > 0
    assert doc["recommendation"]["memory_mb"] >= 64
