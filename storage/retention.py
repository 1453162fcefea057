"""Retention: personal data is kept only as long as the service needs it.

- Applications: the personal fields (names, IIN and its hash, phone, the
  PDF, the staff hand-off note) are blanked `days` after the application
  reached its final status (issued or rejected), the way /forget blanks
  them; number, status and dates stay for staff statistics.
- Hand-offs: closed (or failed) hand-offs and the staff-chat message ids
  that tie citizens to them are deleted `handoff_days` after closing.
- Bookings: a booking and its reminders are deleted `booking_days` after
  its time (who came when is of no use later; the day lists are printed).
- Staff topics: the mapping citizen -> staff-chat topic goes with the
  citizen's last hand-off (`handoff_days` after it closed).
- Outbox: notifications that were sent, failed or whose delivery is unknown
  are deleted `outbox_days` after they were written (their text may carry a
  name, a place, a reason). Pending rows are never touched.

One transaction; works on SQLite and PostgreSQL; safe to run from several
workers at once (each statement is conditional and idempotent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, exists, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import outbox
from storage.applications import (
    ISSUED,
    REJECTED,
    Application,
    forget_applications,
)
from storage.booking import Booking, BookingReminder
from storage.handoffs import CLOSED, FAILED, Handoff, HandoffMessage, StaffTopic

APPLICATION_DAYS = 365
HANDOFF_DAYS = 30
OUTBOX_DAYS = 30
BOOKING_DAYS = 90
FINAL_STATUSES = (ISSUED, REJECTED)
BATCH = 500  # applications blanked per statement (PostgreSQL's parameter limit is far)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    days: int = APPLICATION_DAYS,
    handoff_days: int = HANDOFF_DAYS,
    outbox_days: int = OUTBOX_DAYS,
    booking_days: int = BOOKING_DAYS,
) -> dict[str, int]:
    """Remove personal data past its retention period; how many of each:
    {"applications", "handoffs", "handoff_messages", "staff_topics",
    "bookings", "outbox"}."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    app_cutoff = now - timedelta(days=days)
    handoff_cutoff = now - timedelta(days=handoff_days)
    outbox_cutoff = now - timedelta(days=outbox_days)
    booking_cutoff = now - timedelta(days=booking_days)
    async with sessions() as session, session.begin():
        ids = list(
            (
                await session.scalars(
                    select(Application.id).where(
                        Application.status.in_(FINAL_STATUSES),
                        Application.updated_at < app_cutoff,
                        Application.forgotten_at.is_(None),
                    )
                )
            ).all()
        )
        forgotten = 0
        for start in range(0, len(ids), BATCH):
            forgotten += await forget_applications(session, ids[start : start + BATCH])

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
        return {
            "applications": forgotten,
            "handoffs": _rowcount(handoffs),
            "handoff_messages": _rowcount(messages),
            "staff_topics": _rowcount(topics),
            "bookings": _rowcount(bookings),
            "outbox": _rowcount(notices),
        }
