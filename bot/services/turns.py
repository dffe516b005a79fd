"""Long pure-Python work on the event loop, in turns: every chat waits while it runs."""

from __future__ import annotations

import asyncio
import time


class Turns:
    """Hands the event loop back after every SLICE seconds of work: deciding a sweep over
    10,000 communes is 40-140 ms of plain Python, and without this every chat's reply waited
    behind it (bench/memory.py prints the longest stall)."""

    SLICE = 0.002

    def __init__(self) -> None:
        self.since = time.perf_counter()

    async def take(self) -> None:
        """Yield to the event loop if this turn has lasted long enough."""
        if time.perf_counter() - self.since >= self.SLICE:
            await asyncio.sleep(0)
            self.since = time.perf_counter()
