"""In-memory delivery work: jobs, the fan-out of one event, and per-target lanes."""

import asyncio
import contextlib
import contextvars
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from modelops_notifier.ports import Doc


@dataclass(eq=False)
class Job:
    """One delivery being worked on.

    A fan-out member lives only in memory until its event is committed; a stored job has a
    `pending_deliveries` document (a retry, a replay, or a member deferred at commit time).
    """

    doc: Doc
    fan: "Fanout | None" = None
    stored: bool = False
    settled: bool = False  # the in-memory attempt decided: final, or retry later
    orphan: bool = False  # another record owns this delivery: drop our outcome


@dataclass(eq=False)
class Fanout:
    """An event's deliveries, attempted from memory; committed (then acked) as one record."""

    event_id: str
    jobs: list[Job]
    started: float = field(default_factory=time.monotonic)
    open: int = 0
    sealed: bool = False  # taken by a commit: members settling later go the stored way
    committed: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Lane:
    """One target's deliveries: at most `limit` in flight, never waiting on other targets."""

    def __init__(
        self, limit: int, run: Callable[[Job], Awaitable[None]], tasks: set[asyncio.Task[None]]
    ) -> None:
        self._queue: deque[Job] = deque()
        self._limit, self._run, self._tasks = limit, run, tasks
        self._started: dict[int, float] = {}  # worker -> when its current attempt began
        self.running = 0

    def push(self, job: Job) -> None:
        self._queue.append(job)
        while self.running < self._limit and self.running < len(self._queue):
            self.running += 1
            task = asyncio.create_task(self._drain(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def slow(self, at: float, after_s: float) -> bool:
        """True while an attempt of this target has been in flight longer than `after_s`."""
        return any(at - started > after_s for started in self._started.values())

    async def _drain(self) -> None:
        worker = id(asyncio.current_task())
        try:
            while self._queue:
                job = self._queue.popleft()
                self._started[worker] = time.monotonic()
                await self._run(job)
        finally:
            self._started.pop(worker, None)
            self.running -= 1


async def woken(wake: asyncio.Event, timeout_s: float) -> None:
    """Wait until `wake` is set or `timeout_s` passed, then reset it (a loop's heartbeat)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await wake.wait()
    wake.clear()
