"""Running the model: inline or in a thread pool, with a concurrency limit, a timeout, and
model failures turned into error ids that are in the logs."""

import asyncio
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from modelops_modelserver.codecs import Codec, Inputs
from modelops_modelserver.metadata import ModelMetadata, Schema
from modelops_modelserver.models import Model, load_model
from modelops_modelserver.observability import ServerMetrics, log_fields
from modelops_modelserver.settings import ServerSettings

log = logging.getLogger("modelops_modelserver")
WARMUP_CALLS = 30


class Overloaded(Exception):
    """More requests are held than the worker accepts (HTTP 429)."""


class TimedOut(Exception):
    """The model did not answer within the request timeout (HTTP 504)."""


class ModelFailed(Exception):
    """The model raised; error_id finds the traceback in the logs (HTTP 500)."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


class Scorer:
    """One loaded model and the policy for calling it."""

    def __init__(self, settings: ServerSettings, meta: ModelMetadata, metrics: ServerMetrics):
        self.settings = settings
        self.meta = meta
        self.metrics = metrics
        self.model: Model = load_model(meta, settings.onnx_threads)
        self.schema: Schema = self.model.schema
        self.codec = Codec(self.schema)
        self.is_script = meta.uses_script
        self.inline = False
        self.pending = 0
        self._sem = asyncio.Semaphore(settings.max_concurrency)
        self._pool = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="model")
        self._timeout = settings.request_timeout_s
        self._observe = metrics.model_observe
        self._predict = self.model.predict

    def warm_up(self) -> float:
        """Call the model on a sample; returns the slowest of the last calls (ms)."""
        sample = self.sample_inputs()
        if sample is None:
            return float("inf")
        timings = []
        for _ in range(WARMUP_CALLS):
            started = time.perf_counter()
            self.model.predict(self.adapt(sample, b""))
            timings.append((time.perf_counter() - started) * 1000)
        slowest = max(timings[WARMUP_CALLS // 2 :])
        mode = self.settings.execution
        self.inline = mode == "inline" or (
            mode == "auto" and not self.is_script and slowest < self.settings.inline_max_ms
        )
        log.info("model_warmed_up", extra=log_fields(slowest_ms=slowest, inline=self.inline))
        return slowest

    def sample_inputs(self) -> Inputs | None:
        if self.meta.sample_input is not None:
            return self.codec.value(self.meta.sample_input, "sample_input")
        if self.is_script or not self.schema.inputs:
            return None
        out: Inputs = {}
        for spec in self.schema.inputs:
            shape = tuple(1 if d < 0 else d for d in spec.shape)
            if spec.datatype == "BYTES":
                out[spec.name] = np.full(shape, "", dtype=object)
            else:
                out[spec.name] = np.zeros(shape, dtype=_dtype(spec.datatype))
        return out

    def adapt(self, inputs: Inputs, raw: bytes) -> Any:
        """What the model's predict takes: arrays for ONNX; per script_input for score.py."""
        if not self.is_script:
            return inputs
        mode = self.meta.script_input
        if mode == "raw":
            return raw.decode("utf-8", "replace")
        if not self.schema.inputs:
            return inputs.get("data", inputs) if len(inputs) == 1 else inputs
        if mode == "json":
            inputs = {k: v.tolist() for k, v in inputs.items()}
        return next(iter(inputs.values())) if len(inputs) == 1 else inputs

    async def predict(self, inputs: Inputs, raw: bytes, route: str) -> Any:
        """Call the model under the worker's limits."""
        if self.pending >= self.settings.max_pending:
            raise Overloaded(f"more than {self.settings.max_pending} requests held; retry later")
        if self.inline:  # the fast path: no thread hop, no extra timing
            try:
                return self._predict(self.adapt(inputs, raw) if self.is_script else inputs)
            except Exception as exc:
                raise self._failed(exc, route) from exc
        self.pending += 1
        try:
            data = self.adapt(inputs, raw)
            return await asyncio.wait_for(self._limited(data, route), self._timeout)
        except TimeoutError:
            raise TimedOut(f"the model did not answer within {self._timeout:g} s") from None
        finally:
            self.pending -= 1

    async def _limited(self, data: Any, route: str) -> Any:
        async with self._sem:
            if self.model.is_async:
                return await self._call_async(data, route)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._call, data, route)

    def _call(self, data: Any, route: str) -> Any:
        started = time.perf_counter()
        try:
            return self.model.predict(data)
        except Exception as exc:
            raise self._failed(exc, route) from exc
        finally:
            self._observe(time.perf_counter() - started)

    async def _call_async(self, data: Any, route: str) -> Any:
        started = time.perf_counter()
        try:
            return await self.model.predict(data)
        except Exception as exc:
            raise self._failed(exc, route) from exc
        finally:
            self._observe(time.perf_counter() - started)

    def _failed(self, exc: Exception, route: str) -> ModelFailed:
        error_id = uuid.uuid4().hex[:16]
        fields = log_fields(error_id=error_id, route=route, error=repr(exc))
        log.error("model_failed", exc_info=exc, extra=fields)
        return ModelFailed(
            error_id, f"the model failed ({type(exc).__name__}); error id {error_id}"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _dtype(datatype: str) -> Any:
    from modelops_modelserver.datatypes import numpy_dtype

    return numpy_dtype(datatype)
