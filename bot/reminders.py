"""Booking reminders (the day before and an hour before, data/booking.yml),
handed to the outbox, which the paced sender delivers.

Every `interval` seconds the loop takes the reminders whose moment has come.
For each, one transaction marks it sent, with a conditional UPDATE that
only a pending reminder of an active booking passes, and enqueues its
message under a unique outbox key. Two workers, or a restart in the middle,
cannot send one twice: the second UPDATE changes no row. A cancelled or
rescheduled booking's reminders were marked cancelled (and their unsent
outbox rows removed) in the cancelling transaction, so none goes out. When
the bot was down past several moments of one booking, only the latest
reminder is sent; the visit having started, none is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.booking.config import Offices
from actions.booking.texts import reminder_text
from actions.events import Button
from actions.i18n import Translator
from bot.keyboards import buttons_to_json
from bot.periodic import PeriodicJob, describe
from storage import booking as bookings
from storage import outbox
from storage.db import database_unavailable
from storage.models import utcnow

log = logging.getLogger(__name__)


class ReminderLoop(PeriodicJob):
    name = "booking-reminders"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        translator: Translator,
        offices: Offices,
        tz: tzinfo,
        *,
        clock: Callable[[], datetime] = utcnow,
        interval: float = 30.0,
        batch: int = 200,
    ) -> None:
        super().__init__(interval)
        self.sessions = sessions
        self.t = translator
        self.offices = offices
        self.tz = tz
        self.clock = clock
        self.batch = batch
        self.queued = 0
        self.skipped = 0  # reminders whose pass failed (each tried again next pass)
        self._full_batch = False

    def more_due(self) -> bool:
        return self._full_batch  # more are due (many visits at one hour): no pause

    async def run_once(self) -> int:
        """One pass; return how many reminders were put in the outbox."""
        now = self.clock()
        async with self.sessions() as session:
            due = await bookings.due_reminders(session, now, self.batch)
            # Of a booking's due reminders only the latest goes (asked of the
            # database: the batch may hold the earlier ones only).
            latest = await bookings.latest_due(session, list({b.id for _, b in due}), now)
        self._full_batch = len(due) >= self.batch
        queued = 0
        for reminder, booking in due:
            try:
                queued += await self._settle(reminder, booking, latest, now)
            except Exception as exc:
                # The database away ends the pass (the next retries); one bad
                # reminder (a bug, odd data) must not hold up all the others.
                if database_unavailable(exc):
                    raise
                self.skipped += 1
                log.error("booking %s: reminder failed (%s)", booking.code, describe(exc))
        self.queued += queued
        return queued

    async def _settle(
        self,
        reminder: bookings.BookingReminder,
        booking: bookings.Booking,
        latest: dict[int, datetime],
        now: datetime,
    ) -> int:
        """Send (queue) or skip one due reminder; 1 when queued."""
        send = (
            reminder.due_at >= latest.get(booking.id, reminder.due_at)
            and booking.status == bookings.ACTIVE
            and booking.starts_at > now
        )
        async with self.sessions() as session, session.begin():
            if not send:
                await bookings.settle_reminder(session, reminder.id, bookings.REMINDER_SKIPPED, now)
                return 0
            if not await bookings.settle_reminder(
                session, reminder.id, bookings.REMINDER_SENT, now
            ):
                return 0  # another worker had it, or the booking was just cancelled
            await outbox.enqueue(
                session,
                booking.user_id,
                reminder_text(self.t, booking, self.offices, self.tz),
                buttons=buttons_to_json(self._buttons(booking)),
                key=bookings.reminder_key(booking.id, reminder.minutes_before),
            )
        log.info("booking %s: reminder queued", booking.code)
        return 1

    def _buttons(self, booking: bookings.Booking) -> list[list[Button]]:
        lang = booking.lang if booking.lang in ("kk", "ru") else "kk"
        return [
            [
                Button(self.t(lang, "bk-btn-my"), "bk:my"),
                Button(
                    self.t(lang, "bk-btn-cancel-booking", code=booking.code),
                    f"bk:cn:{booking.code}",
                ),
            ]
        ]
