"""Open Inference Protocol datatypes and their numpy equivalents."""

from typing import Any

import numpy as np

OIP_TO_NUMPY: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}
"""Every OIP datatype; BYTES tensors are numpy object arrays of str (or bytes)."""

ONNX_TO_OIP: dict[str, str] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}

# Which numpy kinds a JSON value may arrive as, per target kind ('f' accepts ints too).
ACCEPTED_KINDS: dict[str, str] = {"b": "b", "u": "iu", "i": "iu", "f": "iuf", "O": "USO"}
KIND_WORDS = {"b": "booleans", "i": "integers", "u": "integers", "f": "numbers", "O": "strings"}
FOUND_WORDS = {
    "b": "booleans",
    "i": "integers",
    "u": "integers",
    "f": "floats",
    "U": "strings",
    "S": "bytes",
    "O": "mixed or null values",
}


def numpy_dtype(datatype: str) -> Any:
    """The numpy dtype of an OIP datatype; KeyError if it is not one."""
    return OIP_TO_NUMPY[datatype]


def oip_datatype(array: np.ndarray[Any, Any]) -> str:
    """The OIP datatype of a numpy array (strings and objects are BYTES)."""
    kind = array.dtype.kind
    if kind in "USO":
        return "BYTES"
    for name, dtype in OIP_TO_NUMPY.items():
        if dtype is not np.object_ and array.dtype == np.dtype(dtype):
            return name
    return "FP64"
