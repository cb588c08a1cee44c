"""Per-deployment admission: a fixed number of slots and a bounded FIFO queue with a wait limit."""

import asyncio
import contextlib
import math
from collections import deque


class Saturated(Exception):
    """No slot freed up within the queue wait, or the queue is full."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("deployment saturated")
        self.retry_after = str(max(1, math.ceil(retry_after_s)))


class Slots:
    """`capacity` requests run at once; up to `max_queue` wait at most `wait_s` for a slot."""

    def __init__(self, capacity: int, max_queue: int, wait_s: float) -> None:
        self.capacity = capacity
        self.max_queue = max_queue
        self.wait_s = wait_s
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def resize(self, capacity: int, max_queue: int, wait_s: float) -> None:
        """New limits (replicas or concurrency changed); waiters get freed slots at once."""
        self.capacity, self.max_queue, self.wait_s = capacity, max_queue, wait_s
        while self._waiters and self.in_flight < self.capacity:
            if self._hand_over():
                self.in_flight += 1

    def try_acquire(self) -> bool:
        """Take a free slot without waiting (mirrored traffic never queues)."""
        if self.in_flight < self.capacity and not self._waiters:
            self.in_flight += 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting in line at most `wait_s`; raise Saturated otherwise."""
        if self.try_acquire():
            return
        if len(self._waiters) >= self.max_queue or self.wait_s <= 0:
            raise Saturated(self.wait_s)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_s):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                if isinstance(exc, TimeoutError):
                    return  # the slot was handed over as the wait ran out: keep it
                self.release()
            self._discard(waiter)
            if isinstance(exc, TimeoutError):
                raise Saturated(self.wait_s) from None
            raise

    def release(self) -> None:
        """Give the slot to the first waiter still waiting, else free it."""
        if not self._hand_over():
            self.in_flight -= 1

    def _hand_over(self) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return True
        return False

    def _discard(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)


class Admission:
    """Slots per deployment, resized when its replicas or limits change."""

    def __init__(self, queue_factor: float) -> None:
        self._queue_factor = queue_factor
        self._slots: dict[str, Slots] = {}

    def configure(self, deployment: str, capacity: int, wait_s: float) -> Slots:
        max_queue = math.ceil(capacity * self._queue_factor)
        slots = self._slots.get(deployment)
        if slots is None:
            slots = self._slots[deployment] = Slots(capacity, max_queue, wait_s)
        else:
            slots.resize(capacity, max_queue, wait_s)
        return slots

    def get(self, deployment: str) -> Slots | None:
        return self._slots.get(deployment)

    def forget(self, deployment: str) -> None:
        self._slots.pop(deployment, None)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """In-flight and queued requests per deployment (the deployer's autoscaling input)."""
        return {
            name: {"in_flight": s.in_flight, "queued": s.queued, "capacity": s.capacity}
            for name, s in self._slots.items()
        }
