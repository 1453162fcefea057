"""The daily retention job: `storage.retention.purge_expired` once a day
(and once shortly after start), for as long as the bot runs.

Several workers may each run it: every pass is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.periodic import PeriodicJob
from storage.models import utcnow
from storage.retention import APPLICATION_DAYS, HANDOFF_DAYS, OUTBOX_DAYS, purge_expired

log = logging.getLogger(__name__)

DAY = 24 * 3600.0
FIRST_PASS_DELAY = 60.0  # after start: let the bot settle before the first pass


class RetentionJob(PeriodicJob):
    name = "retention"

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
        super().__init__(interval, first_delay)
        self.sessions = sessions
        self.days = days
        self.handoff_days = handoff_days
        self.outbox_days = outbox_days
        self.clock = clock

    async def run_once(self) -> dict[str, int]:
        removed = await purge_expired(
            self.sessions,
            self.clock(),
            days=self.days,
            handoff_days=self.handoff_days,
            outbox_days=self.outbox_days,
        )
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in removed.items()))
        return removed
