"""The server's own OpenAPI 3.1 document, built from the model's input/output schema."""

from typing import Any

from modelops_modelserver import __version__
from modelops_modelserver.metadata import ModelMetadata, Schema, TensorSpec

JSON_TYPES = {"BOOL": "boolean", "BYTES": "string", "FP16": "number", "FP32": "number"}
JSON_TYPES["FP64"] = "number"


def _scalar(spec: TensorSpec) -> dict[str, Any]:
    return {"type": JSON_TYPES.get(spec.datatype, "integer"), "description": spec.datatype}


def _nested(spec: TensorSpec) -> dict[str, Any]:
    """A JSON schema of nested arrays matching the tensor's shape."""
    node = _scalar(spec)
    for size in reversed(spec.shape):
        node = {"type": "array", "items": node}
        if size >= 0:
            node["minItems"] = node["maxItems"] = size
    return node


def _data_schema(schema: Schema) -> dict[str, Any]:
    if len(schema.inputs) == 1:
        return _nested(schema.inputs[0])
    if not schema.inputs:
        return {"description": "whatever the entry script's run(data) accepts"}
    props = {s.name: _nested(s) for s in schema.inputs}
    return {"type": "object", "properties": props, "required": list(props)}


def _tensor_schema(datatypes: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string", "enum": datatypes},
            "data": {"type": "array", "description": "row-major, nested or flat"},
        },
    }


def _post(summary: str, body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "200": {"description": "predictions", "content": _json(response)},
                "400": {
                    "description": "the input does not fit the schema",
                    "content": _json(error),
                },
                "500": {"description": "the model failed; error_id is in the logs"},
            },
        }
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def build_openapi(meta: ModelMetadata, schema: Schema) -> dict[str, Any]:
    """Paths for /score, OIP infer and /invocations, typed by this model's schema."""
    data = _data_schema(schema)
    outputs = {s.name: _nested(s) for s in schema.outputs}
    predictions = {"type": "object", "properties": outputs} if outputs else {}
    in_types = sorted({s.datatype for s in schema.inputs}) or ["FP32"]
    tensors = {"type": "array", "items": _tensor_schema(in_types)}
    infer_body: dict[str, Any] = {
        "type": "object",
        "required": ["inputs"],
        "properties": {"id": {"type": "string"}, "inputs": tensors},
    }
    records = {"type": "array", "items": {"type": "object"}}
    mlflow_props = {"inputs": data, "instances": data, "dataframe_records": records}
    mlflow_props["dataframe_split"] = {"type": "object"}
    mlflow: dict[str, Any] = {"type": "object", "properties": mlflow_props}
    infer = f"/v2/models/{meta.name}/infer"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{meta.name} version {meta.version}",
            "version": meta.version,
            "description": f"Served by modelops-modelserver {__version__} ({meta.platform}).",
        },
        "paths": {
            "/score": _post("Azure ML style scoring", _score_body(data), predictions),
            infer: _post("Open Inference Protocol v2", infer_body, {"type": "object"}),
            "/invocations": _post("MLflow scoring", mlflow, {"type": "object"}),
        },
        "components": {"schemas": {"ModelSchema": schema.as_json()}},
    }


def _score_body(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": data}}
