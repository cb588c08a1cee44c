"""Shadow traffic: after the live answer is sent, a copy goes to the mirror deployment.

Its answer never reaches the client; agreement with the live answer and the latency
difference are recorded. Mirrors never queue: no free slot or too many in flight means drop.

Agreement compares the prediction, not every output: two versions of a classifier agree when
they give the same labels, whatever their probabilities; numbers agree within a relative
tolerance (a regressor's values).
"""

import asyncio
import math
import random
import time
from typing import TYPE_CHECKING, Any

import orjson

from modelops_scoring_gateway.admission import Admission
from modelops_scoring_gateway.routing import Endpoint, RoutingTable
from modelops_scoring_gateway.stats import Stats
from modelops_scoring_gateway.upstream import Answer, Upstreams

if TYPE_CHECKING:
    from modelops_scoring_gateway.proxy import Route


def prediction(body: bytes) -> Any:
    """The prediction in an answer: OIP's first output (a classifier's label), the value of
    `predictions`/`Results`, or the first of several named outputs; the whole answer otherwise."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(value, dict) and isinstance(value.get("outputs"), list) and value["outputs"]:
        first = value["outputs"][0]
        return first.get("data") if isinstance(first, dict) else first
    for key in ("predictions", "Results"):
        if isinstance(value, dict) and key in value:
            value = value[key]
    if isinstance(value, dict) and value:  # several named outputs: the first is the prediction
        return next(iter(value.values()))
    return value


def agree(a: Any, b: Any, rel_tol: float) -> bool:
    """Equal, numbers within `rel_tol` of each other (booleans and strings exactly)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(agree(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(agree(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
    return bool(a == b)


class Mirror:
    """Starts bounded background copies and records how they compare."""

    def __init__(
        self,
        table: RoutingTable,
        admission: Admission,
        upstreams: Upstreams,
        stats: Stats,
        max_in_flight: int,
        rel_tol: float = 1e-3,
    ) -> None:
        self._table, self._admission, self._upstreams = table, admission, upstreams
        self._stats, self._max, self._rel_tol = stats, max_in_flight, rel_tol
        self._tasks: set[asyncio.Task[None]] = set()

    def maybe(
        self, endpoint: Endpoint, route: "Route", body: bytes, ctype: bytes, live: Answer,
        live_ms: float,
    ) -> None:  # fmt: skip
        for name, percent in endpoint.mirror.items():
            if random.random() * 100 >= percent:  # noqa: S311
                continue
            target = self._table.targets.get(name)
            stats = self._stats.mirror(endpoint.name, name)
            slots = self._admission.get(name) if target is not None else None
            if target is None or not target.routable or len(self._tasks) >= self._max:
                stats.dropped += 1
                continue
            if slots is None:
                slots = self._admission.configure(name, target.capacity, target.max_queue_wait_s)
            if not slots.try_acquire():
                stats.dropped += 1
                continue
            coro = self._copy(target.name, endpoint.name, route, body, ctype, live, live_ms)
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _copy(
        self, name: str, endpoint: str, route: "Route", body: bytes, ctype: bytes, live: Answer,
        live_ms: float,
    ) -> None:  # fmt: skip
        stats = self._stats.mirror(endpoint, name)
        target = self._table.targets.get(name)
        started = time.perf_counter()
        try:
            if target is None:
                raise LookupError(name)
            answer = await self._upstreams.call(
                "POST", target.upstream_order(), route.upstream_path(target), body, ctype, None,
                target.request_timeout_s,
            )  # fmt: skip
        except Exception:  # a failed shadow call is counted, never surfaced
            stats.mirrored += 1
            stats.errors += 1
            return
        finally:
            slots = self._admission.get(name)
            if slots is not None:
                slots.release()
        stats.mirrored += 1
        if answer.status >= 400:
            stats.errors += 1
            return
        stats.latency_diff_sum_ms += (time.perf_counter() - started) * 1000 - live_ms
        if answer.body == live.body or agree(
            prediction(answer.body), prediction(live.body), self._rel_tol
        ):
            stats.agreed += 1

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
