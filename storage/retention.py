"""Retention: personal data is kept only as long as the service needs it.

- Applications: the personal fields (names, IIN and its hash, phone, the
  PDF, the staff hand-off note) are blanked `days` after the application
  reached its final status (issued or rejected), the way /forget blanks
  them; number, status and dates stay for staff statistics. An application
  still open (received, in review, ready) that nobody touched for
  `open_days` is blanked the same way (never collected, given up on).
- Hand-offs: closed (or failed) hand-offs and the staff-chat message ids
  that tie citizens to them are deleted `handoff_days` after closing.
- Bookings: a booking and its reminders are deleted `booking_days` after
  its time (who came when is of no use later; the day lists are printed).
- Staff topics: the mapping citizen -> staff-chat topic goes with the
  citizen's last hand-off (`handoff_days` after it closed).
- Outbox: notifications that were sent, failed or whose delivery is unknown
  are deleted `outbox_days` after they were written (their text may carry a
  name, a place, a reason). Pending rows are never touched.
- Users: a citizen's row (Telegram id and chosen language) is deleted after
  `user_days` without activity (storage/users.py marks it used at most once
  a day); a citizen who comes back starts as a new one.

The periods are settings (RETENTION_*_DAYS, bot/settings.py), listed to the
citizen by /privacy; `RetentionPeriods` carries them.

One transaction; works on SQLite and PostgreSQL; safe to run from several
workers at once (each statement is conditional and idempotent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, exists, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import outbox
from storage.applications import (
    IN_REVIEW,
    ISSUED,
    READY,
    RECEIVED,
    REJECTED,
    Application,
    forget_applications,
)
from storage.booking import Booking, BookingReminder
from storage.handoffs import CLOSED, FAILED, Handoff, HandoffMessage, StaffTopic
from storage.models import User

APPLICATION_DAYS = 365
HANDOFF_DAYS = 30
OUTBOX_DAYS = 30
BOOKING_DAYS = 90
OPEN_APPLICATION_DAYS = 730  # an open application nobody touched for two years
USER_DAYS = 365  # a citizen not seen for a year
FINAL_STATUSES = (ISSUED, REJECTED)
OPEN_STATUSES = (RECEIVED, IN_REVIEW, READY)
BATCH = 500  # applications blanked per statement (PostgreSQL's parameter limit is far)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


@dataclass(frozen=True)
class RetentionPeriods:
    """How many days each kind of personal data is kept (see the module doc)."""

    days: int = APPLICATION_DAYS
    open_days: int = OPEN_APPLICATION_DAYS
    handoff_days: int = HANDOFF_DAYS
    outbox_days: int = OUTBOX_DAYS
    booking_days: int = BOOKING_DAYS
    user_days: int = USER_DAYS

    def as_kwargs(self) -> dict[str, int]:
        return asdict(self)


async def _forget_where(session: AsyncSession, *conditions: Any) -> int:
    ids = list(
        (
            await session.scalars(
                select(Application.id).where(Application.forgotten_at.is_(None), *conditions)
            )
        ).all()
    )
    forgotten = 0
    for start in range(0, len(ids), BATCH):
        forgotten += await forget_applications(session, ids[start : start + BATCH])
    return forgotten


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    days: int = APPLICATION_DAYS,
    handoff_days: int = HANDOFF_DAYS,
    outbox_days: int = OUTBOX_DAYS,
    booking_days: int = BOOKING_DAYS,
    open_days: int = OPEN_APPLICATION_DAYS,
    user_days: int = USER_DAYS,
) -> dict[str, int]:
    """Remove personal data past its retention period; how many of each:
    {"applications", "open_applications", "handoffs", "handoff_messages",
    "staff_topics", "bookings", "outbox", "users"}."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    app_cutoff = now - timedelta(days=days)
    open_cutoff = now - timedelta(days=open_days)
    user_cutoff = now - timedelta(days=user_days)
    handoff_cutoff = now - timedelta(days=handoff_days)
    outbox_cutoff = now - timedelta(days=outbox_days)
    booking_cutoff = now - timedelta(days=booking_days)
    async with sessions() as session, session.begin():
        forgotten = await _forget_where(
            session,
            Application.status.in_(FINAL_STATUSES),
            Application.updated_at < app_cutoff,
        )
        stale = await _forget_where(
            session,
            Application.status.in_(OPEN_STATUSES),
            Application.updated_at < open_cutoff,
        )

        old_handoffs = select(Handoff.id).where(
            Handoff.status.in_((CLOSED, FAILED)), Handoff.closed_at < handoff_cutoff
        )
        messages = await session.execute(
            delete(HandoffMessage)
            .where(HandoffMessage.handoff_id.in_(old_handoffs))
            .execution_options(synchronize_session=False)
        )
        handoffs = await session.execute(
            delete(Handoff)
            .where(Handoff.status.in_((CLOSED, FAILED)), Handoff.closed_at < handoff_cutoff)
            .execution_options(synchronize_session=False)
        )
        topics = await session.execute(
            delete(StaffTopic)
            .where(
                StaffTopic.created_at < handoff_cutoff,
                ~exists().where(Handoff.user_id == StaffTopic.user_id),
            )
            .execution_options(synchronize_session=False)
        )
        old_bookings = select(Booking.id).where(Booking.starts_at < booking_cutoff)
        await session.execute(
            delete(BookingReminder)
            .where(BookingReminder.booking_id.in_(old_bookings))
            .execution_options(synchronize_session=False)
        )
        bookings = await session.execute(
            delete(Booking)
            .where(Booking.starts_at < booking_cutoff)
            .execution_options(synchronize_session=False)
        )
        notices = await session.execute(
            delete(outbox.OutboxMessage)
            .where(
                outbox.OutboxMessage.status.in_((outbox.SENT, outbox.FAILED, outbox.UNKNOWN)),
                outbox.OutboxMessage.created_at < outbox_cutoff,
            )
            .execution_options(synchronize_session=False)
        )
        users = await session.execute(
            delete(User)
            .where(User.updated_at < user_cutoff)
            .execution_options(synchronize_session=False)
        )
        return {
            "applications": forgotten,
            "open_applications": stale,
            "handoffs": _rowcount(handoffs),
            "handoff_messages": _rowcount(messages),
            "staff_topics": _rowcount(topics),
            "bookings": _rowcount(bookings),
            "outbox": _rowcount(notices),
            "users": _rowcount(users),
        }
