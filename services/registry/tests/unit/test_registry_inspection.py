"""Framework detection and dataset profiles from local files (no object store, no network)."""

import io
import pickletools
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from modelops_contracts.types import Framework
from modelops_registry.inspection import scan_pickle, sniff
from modelops_registry.profiling import profile_files


def _unicode(text: str) -> bytes:
    return b"X" + len(text).to_bytes(4, "little") + text.encode()


SKLEARN_PICKLE = (  # what pickle.dumps(LogisticRegression()) starts like, written by hand
    b"\x80\x02csklearn.linear_model._logistic\nLogisticRegression\n)\x81}"
    + _unicode("_sklearn_version")
    + _unicode("1.9.1")
    + b"sb."
)


def test_an_onnx_model_yields_its_schema_and_opset(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.INT64, [None, 4])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.producer_name, model.producer_version = "skl2onnx", "1.20"
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path))
    detected = sniff(path)
    assert detected.framework is Framework.ONNX
    assert (detected.opset, detected.framework_version) == (15, "skl2onnx 1.20")
    assert detected.inputs == [{"name": "x", "datatype": "INT64", "shape": [-1, 4]}]
    assert detected.outputs == [{"name": "y", "datatype": "FP64", "shape": [-1]}]


def test_a_pickle_is_recognised_without_being_loaded(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(SKLEARN_PICKLE)
    pickletools.dis(SKLEARN_PICKLE, out=io.StringIO())  # a well-formed pickle
    detected = scan_pickle(path)
    assert (detected.framework, detected.framework_version) == (Framework.SKLEARN, "1.9.1")


def test_a_pickle_that_would_run_code_is_only_read(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02" + payload)
    assert sniff(path).framework is None
    assert not marker.exists()


def test_lightgbm_and_xgboost_text_formats_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("tree\nversion=v4\nnum_class=1\n")
    (tmp_path / "model.json").write_text('{"learner": {"attributes": {}}}')
    assert sniff(tmp_path / "model.txt").framework is Framework.LIGHTGBM
    assert sniff(tmp_path / "model.json").framework is Framework.XGBOOST
    (tmp_path / "notes.txt").write_text("hello")
    assert sniff(tmp_path / "notes.txt").framework is None


def test_a_csv_profile_has_types_statistics_and_null_counts(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("n,s\n1,a\n3,a\n,b\n")
    profile = profile_files([path], "csv")
    assert profile["row_count"] == 3
    n, s = profile["columns"]
    assert (n["kind"], n["null_count"], n["min"], n["max"], n["mean"]) == (
        "numeric",
        1,
        1.0,
        3.0,
        2.0,
    )
    assert s["top_values"] == [{"value": "a", "count": 2}, {"value": "b", "count": 1}]
