"""Build logs while they are written: followers get every line, then the end."""

import asyncio
from collections.abc import AsyncIterator


class LiveLog:
    """One build's lines; append from any thread, follow from the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lines: list[str] = []
        self.done = False
        self._loop = loop
        self._changed = asyncio.Event()

    def append(self, line: str) -> None:
        """Thread-safe."""
        self._loop.call_soon_threadsafe(self._add, line)

    def _add(self, line: str) -> None:
        self.lines.append(line)
        self._changed.set()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self.done = True
        self._changed.set()

    async def follow(self) -> AsyncIterator[str]:
        """Every line so far, then new ones as they come, until the build ends."""
        sent = 0
        while True:
            while sent < len(self.lines):
                yield self.lines[sent]
                sent += 1
            if self.done:
                return
            self._changed.clear()
            await self._changed.wait()
