"""A background job that runs a pass every `interval` seconds for as long as
the bot runs: booking reminders, idle hand-offs, retention. A pass that
fails (the database restarting, say) is logged and the next one retries;
`stop()` waits for the pass in hand to finish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)


class PeriodicJob:
    name = "periodic job"

    def __init__(self, interval: float, first_delay: float = 0.0) -> None:
        self.interval = interval
        self.first_delay = first_delay
        self.passes = 0
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> Any:
        raise NotImplementedError

    def more_due(self) -> bool:
        """True when the last pass left work due now: the next one starts at once."""
        return False

    def start(self) -> asyncio.Task[None]:
        self._stopped.clear()
        self._task = asyncio.create_task(self.run(), name=self.name)
        return self._task

    async def stop(self) -> None:
        self._stopped.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _sleep(self, seconds: float) -> bool:
        """Wait `seconds`; True when stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
        return self._stopped.is_set()

    async def run(self) -> None:
        if self.first_delay and await self._sleep(self.first_delay):
            return
        while not self._stopped.is_set():
            try:
                await self.run_once()
                self.passes += 1
            except Exception:  # a database hiccup: the next pass retries
                log.exception("%s: pass failed", self.name)
            if self.more_due():
                await asyncio.sleep(0)
                continue
            if await self._sleep(self.interval):
                return
