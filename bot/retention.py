"""The daily retention job: `storage.retention.purge_expired` once a day
(and once shortly after start), for as long as the bot runs.

The periods are settings (RETENTION_*_DAYS in bot/settings.py, the
defaults in storage/retention.py); /privacy lists the same values
(`retention_periods`). Several workers may each run the job: every pass is
idempotent.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.periodic import PeriodicJob
from bot.settings import Settings
from storage.models import utcnow
from storage.retention import RetentionPeriods, purge_expired

log = logging.getLogger(__name__)

DAY = 24 * 3600.0
FIRST_PASS_DELAY = 60.0  # after start: let the bot settle before the first pass


def periods_of(settings: Settings) -> RetentionPeriods:
    return RetentionPeriods(
        days=settings.retention_application_days,
        open_days=settings.retention_open_application_days,
        handoff_days=settings.retention_handoff_days,
        outbox_days=settings.retention_outbox_days,
        booking_days=settings.retention_booking_days,
        user_days=settings.retention_user_days,
    )


@functools.cache
def retention_periods() -> RetentionPeriods:
    """The configured periods (read from the environment once)."""
    return periods_of(Settings())


class RetentionJob(PeriodicJob):
    name = "retention"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        periods: RetentionPeriods | None = None,
        *,
        interval: float = DAY,
        first_delay: float = FIRST_PASS_DELAY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(interval, first_delay)
        self.sessions = sessions
        self.periods = periods if periods is not None else retention_periods()
        self.clock = clock

    async def run_once(self) -> dict[str, int]:
        removed = await purge_expired(self.sessions, self.clock(), **self.periods.as_kwargs())
        log.info("retention: %s", ", ".join(f"{k} {v}" for k, v in removed.items()))
        return removed
