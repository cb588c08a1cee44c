"""Request bodies of the three protocols decoded into model inputs; outputs encoded back.

Azure (`{"data": ...}`), Open Inference Protocol v2 tensors and MLflow's four JSON bodies (plus
CSV) all end as one dict {input name: validated array}.
"""

import csv
import io
from typing import Any

import numpy as np

from modelops_modelserver.datatypes import oip_datatype
from modelops_modelserver.metadata import Schema, TensorSpec
from modelops_modelserver.validation import Array, BadInput, to_array

Inputs = dict[str, Array]
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class Codec:
    """Decoding and encoding against one model's schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.specs = {s.name: s for s in schema.inputs}
        self.single = schema.inputs[0] if len(schema.inputs) == 1 else None

    # -- values: Azure `data`, MLflow `inputs`/`instances` --------------------------------
    def value(self, data: Any, where: str = "data") -> Inputs:
        """A JSON value as model inputs: the one input's data, or {input name: data}."""
        if self.single is not None:
            if self.single.columns and _is_records(data):
                return self.records(data, where)
            return {self.single.name: to_array(data, self.single, where)}
        if not self.specs:
            return {"data": to_array(data, None, where)}
        if _is_records(data):
            return self.records(data, where)
        if not isinstance(data, dict):
            names = ", ".join(self.specs)
            raise BadInput(f"{where}: the model has several inputs ({names}): send an object")
        return self._named(data, where)

    def _named(self, data: dict[str, Any], where: str) -> Inputs:
        missing = [n for n in self.specs if n not in data]
        if missing:
            raise BadInput(f"{where}: missing input {missing[0]!r}")
        return {n: to_array(data[n], s, f"{where}.{n}") for n, s in self.specs.items()}

    # -- frames: MLflow dataframe_split / dataframe_records, CSV -------------------------
    def frame(self, columns: list[str], rows: list[Any], where: str) -> Inputs:
        """Rows of named columns as model inputs (columns matched by name when declared)."""
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise BadInput(f"{where}.data: expected a list of rows (lists)")
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise BadInput(f"{where}.data[{i}]: {len(row)} values for {len(columns)} columns")
        index = {c: i for i, c in enumerate(columns)}
        if self.single is not None:
            wanted = self.single.columns
            if wanted and list(wanted) != columns:
                cols = [self._column(index, c, where) for c in wanted]
                rows = [[row[i] for i in cols] for row in rows]
            return {self.single.name: to_array(rows, self.single, where, promote_row=False)}
        if not self.specs:
            return {"data": to_array(rows, None, where)}
        out: Inputs = {}
        for name, spec in self.specs.items():
            col = self._column(index, name, where)
            values = [row[col] for row in rows]
            out[name] = to_array(_column_shape(values, spec), spec, f"{where}.{name}")
        return out

    @staticmethod
    def _column(index: dict[str, int], name: str, where: str) -> int:
        if name not in index:
            raise BadInput(f"{where}: missing column {name!r}")
        return index[name]

    def records(self, records: Any, where: str) -> Inputs:
        """A list of {column: value} objects as model inputs."""
        if not _is_records(records):
            raise BadInput(f"{where}: expected a list of objects (records)")
        columns = self._record_columns(records)
        rows = []
        for i, rec in enumerate(records):
            try:
                rows.append([rec[c] for c in columns])
            except KeyError as exc:
                raise BadInput(f"{where}[{i}]: missing column {exc.args[0]!r}") from None
        return self.frame(columns, rows, where)

    def _record_columns(self, records: list[dict[str, Any]]) -> list[str]:
        if self.single is not None and self.single.columns:
            return list(self.single.columns)
        if self.single is None and self.specs:
            return list(self.specs)
        return list(records[0])

    # -- the three protocols -------------------------------------------------------------
    def azure(self, body: Any) -> Inputs:
        """`{"data": ...}` or the schema-decorated `{"Inputs": {"data": ...}}`."""
        if isinstance(body, dict):
            if "data" in body:
                return self.value(body["data"], "data")
            inner = body.get("Inputs")
            if isinstance(inner, dict) and "data" in inner:
                return self.value(inner["data"], "Inputs.data")
            if isinstance(inner, dict) and self.specs and all(n in inner for n in self.specs):
                return self._named(inner, "Inputs")
        raise BadInput('the body must be a JSON object {"data": ...} or {"Inputs": {"data": ...}}')

    def mlflow(self, body: Any) -> Inputs:
        """Exactly one of dataframe_split, dataframe_records, instances, inputs."""
        if not isinstance(body, dict):
            raise BadInput(f"the body must be a JSON object with one of {', '.join(MLFLOW_KEYS)}")
        keys = [k for k in MLFLOW_KEYS if k in body]
        if len(keys) != 1:
            found = ", ".join(keys) or "none"
            raise BadInput(f"the body needs exactly one of {', '.join(MLFLOW_KEYS)}; got {found}")
        key = keys[0]
        value = body[key]
        if key == "dataframe_split":
            if not isinstance(value, dict) or "columns" not in value or "data" not in value:
                raise BadInput('dataframe_split must be {"columns": [...], "data": [[...]]}')
            return self.frame([str(c) for c in value["columns"]], value["data"], key)
        if key == "dataframe_records":
            return self.records(value, key)
        if isinstance(value, dict) and self.single is None:
            return self._named(value, key)
        if key == "instances" and _is_records(value) and self.single is None:
            return self.records(value, key)
        return self.value(value, key)

    def csv(self, text: str) -> Inputs:
        """CSV with a header row, as MLflow reads it with pandas."""
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            raise BadInput("the CSV body is empty")
        rows: list[Any] = [[_csv_value(v) for v in row] for row in reader if row]
        return self.frame([h.strip() for h in header], rows, "csv")

    def oip(self, body: Any) -> Inputs:
        """An OIP v2 inference request's `inputs` tensors."""
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise BadInput('the body must be a JSON object with an "inputs" list of tensors')
        out: Inputs = {}
        for i, tensor in enumerate(body["inputs"]):
            name, arr = self._tensor(tensor, f"inputs[{i}]")
            if name in out:
                raise BadInput(f"inputs[{i}]: input {name!r} appears twice")
            out[name] = arr
        missing = [n for n in self.specs if n not in out]
        if missing:
            raise BadInput(f"missing input {missing[0]!r}")
        return out

    def _tensor(self, tensor: Any, where: str) -> tuple[str, Array]:
        if not isinstance(tensor, dict):
            raise BadInput(f"{where}: a tensor must be an object")
        for field in ("name", "shape", "datatype", "data"):
            if field not in tensor:
                raise BadInput(f"{where}: missing field {field!r}")
        name = tensor["name"]
        spec = self.specs.get(name)
        if spec is None and self.specs:
            raise BadInput(f"{where}: unknown input {name!r}; the model takes {list(self.specs)}")
        where = f"input {name!r}"
        datatype = str(tensor["datatype"])
        return name, to_array(tensor["data"], spec, where, datatype=datatype, shape=tensor["shape"])


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def _column_shape(values: list[Any], spec: TensorSpec) -> list[Any]:
    return [[v] for v in values] if len(spec.shape) == 2 else values


def _csv_value(raw: str) -> Any:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def oip_outputs(outputs: dict[str, Any], wanted: list[str] | None = None) -> list[dict[str, Any]]:
    """Model outputs as OIP response tensors (flattened row-major data)."""
    tensors = []
    for name, value in outputs.items():
        if wanted and name not in wanted:
            continue
        arr = value if isinstance(value, np.ndarray) else _as_output_array(value)
        tensors.append(
            {
                "name": name,
                "datatype": oip_datatype(arr),
                "shape": list(arr.shape),
                "data": arr.reshape(-1) if arr.dtype.kind not in "OSU" else arr.ravel().tolist(),
            }
        )
    return tensors


def _as_output_array(value: Any) -> Array:
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        arr = np.empty(0, dtype=object)
    if arr.dtype.kind == "O" or (arr.ndim == 0 and not isinstance(value, int | float | str)):
        arr = np.array([_jsonable(v) for v in (value if isinstance(value, list) else [value])])
    return arr


def _jsonable(value: Any) -> Any:
    import orjson

    if isinstance(value, str | int | float | bool):
        return value
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def script_outputs(result: Any) -> dict[str, Any]:
    """What run() returned, as named outputs (a dict stays a dict; anything else is output-0)."""
    if isinstance(result, dict):
        return result
    return {"output-0": result}
