"""The daily retention job: `storage.retention.purge_expired` once a day
(and once shortly after start), for as long as the bot runs.

Several workers may each run it: every pass is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import utcnow
from storage.retention import APPLICATION_DAYS, HANDOFF_DAYS, OUTBOX_DAYS, purge_expired

log = logging.getLogger(__name__)

DAY = 24 * 3600.0
FIRST_PASS_DELAY = 60.0  # after start: let the bot settle before the first pass


class RetentionJob:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        days: int = APPLICATION_DAYS,
        handoff_days: int = HANDOFF_DAYS,
        outbox_days: int = OUTBOX_DAYS,
        interval: float = DAY,
        first_delay: float = FIRST_PASS_DELAY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.days = days
        self.handoff_days = handoff_days
        self.outbox_days = outbox_days
        self.interval = interval
        self.first_delay = first_delay
        self.clock = clock
        self.passes = 0
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self._stopped.clear()
        self._task = asyncio.create_task(self.run(), name="retention")
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
        if await self._sleep(self.first_delay):
            return
        while True:
            try:
                await self.run_once()
            except Exception:  # a database hiccup: the next pass retries
                log.exception("retention: pass failed")
            if await self._sleep(self.interval):
                return

    async def run_once(self) -> dict[str, int]:
        removed = await purge_expired(
            self.sessions,
            self.clock(),
            days=self.days,
            handoff_days=self.handoff_days,
            outbox_days=self.outbox_days,
        )
        self.passes += 1
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in removed.items()))
        return removed
