"""Turn JSON values into the arrays a model expects, or say exactly what is wrong (400)."""

from typing import Any

import numpy as np

from modelops_modelserver.datatypes import (
    ACCEPTED_KINDS,
    FOUND_WORDS,
    KIND_WORDS,
    OIP_TO_NUMPY,
    numpy_dtype,
)
from modelops_modelserver.metadata import TensorSpec

Array = np.ndarray[Any, Any]


class BadInput(ValueError):
    """The request does not fit the model's schema; the message says how (HTTP 400)."""


def _as_numpy(data: Any, where: str, bytes_like: bool) -> Array:
    if data is None:
        raise BadInput(f"{where}: data is missing (null)")
    try:
        return np.asarray(data, dtype=object) if bytes_like else np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{where}: nested lists of unequal lengths ({exc})") from None


def _check_kind(arr: Array, datatype: str, where: str) -> None:
    target = np.dtype(numpy_dtype(datatype)).kind
    if arr.size == 0 or arr.dtype.kind in ACCEPTED_KINDS[target]:
        return
    found = FOUND_WORDS.get(arr.dtype.kind, arr.dtype.name)
    raise BadInput(f"{where}: expected {KIND_WORDS[target]} ({datatype}), got {found}")


def _check_range(arr: Array, dtype: Any, where: str) -> None:
    info = np.iinfo(dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise BadInput(f"{where}: values outside the range of {np.dtype(dtype).name}")


def _check_bytes(arr: Array, where: str) -> None:
    for value in arr.flat:
        if not isinstance(value, str | bytes):
            raise BadInput(f"{where}: expected strings (BYTES), got {type(value).__name__}")


def _fit_shape(arr: Array, spec: TensorSpec, where: str, promote_row: bool) -> Array:
    expected = spec.shape
    if promote_row and arr.ndim == len(expected) - 1 and expected[0] == -1:
        arr = arr.reshape((1, *arr.shape))
    if arr.ndim != len(expected):
        raise BadInput(
            f"{where}: expected {len(expected)} dimensions {list(expected)}, "
            f"got {arr.ndim} {list(arr.shape)}"
        )
    for axis, (want, got) in enumerate(zip(expected, arr.shape, strict=True)):
        if want >= 0 and want != got:
            raise BadInput(
                f"{where}: dimension {axis} is {got}, the model expects {want} "
                f"(shape {list(expected)}, got {list(arr.shape)})"
            )
    return arr


def to_array(
    data: Any,
    spec: TensorSpec | None,
    where: str,
    *,
    datatype: str | None = None,
    shape: list[int] | None = None,
    promote_row: bool = True,
) -> Array:
    """A validated array for one input; `datatype`/`shape` are what an OIP request declared."""
    if spec is not None and datatype is not None and datatype != spec.datatype:
        raise BadInput(f"{where}: datatype {datatype} does not match the model's {spec.datatype}")
    target = spec.datatype if spec is not None else datatype
    if target is not None and target not in OIP_TO_NUMPY:
        raise BadInput(f"{where}: unknown datatype {target!r}")
    arr = _as_numpy(data, where, target == "BYTES")
    if target == "BYTES":
        _check_bytes(arr, where)
    elif target is not None:
        _check_kind(arr, target, where)
    if shape is not None:
        arr = _reshape(arr, shape, where)
    if spec is not None:
        arr = _fit_shape(arr, spec, where, promote_row and shape is None)
    if target is None or target == "BYTES":
        return arr
    dtype = numpy_dtype(target)
    if arr.dtype.kind in "iu" and np.dtype(dtype).kind in "iu" and arr.dtype != dtype:
        _check_range(arr, dtype, where)
    return arr.astype(dtype, copy=False)


def _reshape(arr: Array, shape: list[int], where: str) -> Array:
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise BadInput(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    count = int(np.prod(shape)) if shape else 1
    if count != arr.size:
        raise BadInput(f"{where}: shape {shape} holds {count} elements, data has {arr.size}")
    return arr.reshape(shape)
