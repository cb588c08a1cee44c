"""Every OIP datatype round-trips through an ONNX graph, nested or flat, BYTES included."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelops_modelserver.codecs import Codec
from modelops_modelserver.metadata import Schema, TensorSpec
from modelops_modelserver.validation import BadInput, to_array

VALUES: dict[str, list[Any]] = {
    "BOOL": [True, False, False, True],
    "UINT8": [0, 1, 254, 255],
    "UINT16": [0, 1, 2, 65535],
    "UINT32": [0, 1, 2, 4294967295],
    "UINT64": [0, 1, 2, 3],
    "INT8": [-128, -1, 0, 127],
    "INT16": [-32768, 0, 1, 32767],
    "INT32": [-5, 0, 5, 2147483647],
    "INT64": [-(2**40), 0, 1, 2**40],
    "FP16": [0.5, -1.5, 2.0, 0.25],
    "FP32": [0.5, -1.5, 2.25, 1e-3],
    "FP64": [0.1, -1e300, 2.5, 3.0],
    "BYTES": ["a", "héllo", "", "z"],
}


async def test_every_datatype_round_trips(serve: Any, echo_dir: Path) -> None:
    inputs = []
    for i, (dt, values) in enumerate(VALUES.items()):
        data: list[Any] = values if i % 2 else [values[:2], values[2:]]  # flat and nested
        inputs.append({"name": f"in_{dt.lower()}", "shape": [2, 2], "datatype": dt, "data": data})
    async with serve(echo_dir) as http:
        resp = await http.post("/v2/models/echo/infer", json={"inputs": inputs})
        meta = (await http.get("/v2/models/echo")).json()
    assert resp.status_code == 200, resp.text
    outputs = {o["name"]: o for o in resp.json()["outputs"]}
    for dt, values in VALUES.items():
        out = outputs[f"out_{dt.lower()}"]
        assert out["datatype"] == dt
        assert out["shape"] == [2, 2]
        if dt in ("FP16", "FP32"):
            assert np.allclose(out["data"], values, rtol=1e-3)
        else:
            assert out["data"] == values
    assert {i["datatype"] for i in meta["inputs"]} == set(VALUES)


def test_integer_out_of_range_and_float_into_int_are_rejected() -> None:
    spec = TensorSpec("x", "UINT8", (-1,))
    for data, message in (([256], "outside the range"), ([1.5], "expected integers")):
        with pytest.raises(BadInput, match=message):
            to_array(data, spec, "x")


def test_several_inputs_take_an_object_or_columns() -> None:
    specs = (TensorSpec("a", "FP32", (-1, 1)), TensorSpec("b", "INT64", (-1, 1)))
    codec = Codec(Schema(specs))
    named = codec.value({"a": [[1.0]], "b": [[2]]})
    frame = codec.frame(["b", "a"], [[2, 1.0], [3, 4.0]], "dataframe_split")
    assert named["b"].dtype == np.int64
    assert frame["a"].tolist() == [[1.0], [4.0]]
    with pytest.raises(BadInput, match="several inputs"):
        codec.value([[1.0, 2]])
