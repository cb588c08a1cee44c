"""The model server's answers: (status, body, content type), JSON by orjson, error shapes."""

from typing import Any

import orjson

from modelops_modelserver.scoring import ModelFailed, Overloaded, TimedOut
from modelops_modelserver.validation import BadInput

Reply = tuple[int, bytes, bytes]
Scored = tuple[Reply, bool]
"""A scoring reply, and whether the request body was parsed as strict JSON."""
JSON_BODIES = (b"modelops-bodies", b"json")
"""Sent with a 200 whose request was parsed as strict JSON (orjson) and whose answer is JSON: the
gateway may then log both bodies verbatim, without parsing them again."""
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
DUMP_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
"""NumPy arrays as lists; int class keys (scikit-learn's ZipMap probabilities) as strings."""
FAILURES = (BadInput, Overloaded, TimedOut, ModelFailed)
"""What a scoring call may raise that becomes an error reply."""
ERROR_STATUS = {BadInput: 400, Overloaded: 429, TimedOut: 504, ModelFailed: 500}


def _default(value: Any) -> Any:
    """orjson fallback: object arrays (strings) and numpy scalars."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=DUMP_OPTS)


def json_reply(status: int, value: Any) -> Reply:
    return status, dumps(value), JSON


def error_reply(status: int, message: str, **extra: Any) -> Reply:
    return json_reply(status, {"error": message, **extra})


def mlflow_error_reply(status: int, message: str, **extra: Any) -> Reply:
    code = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
    return json_reply(status, {"error_code": code, "message": message, **extra})
