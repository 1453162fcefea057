"""A crash between the steps of a booking, a move, a cancellation or a
reminder leaves nothing half done, on SQLite and PostgreSQL: the work is
cut off inside its transaction (as a killed process's connection is), and
the database holds what it held before; doing it again then works once."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import storage.booking
from actions.booking import Offices
from actions.i18n import Translator
from bot.reminders import ReminderLoop
from storage import outbox
from storage.booking import (
    ACTIVE,
    REMINDER_PENDING,
    REMINDER_SENT,
    Booked,
    Booking,
    BookingReminder,
    BookingStore,
    SlotFull,
)
from tests.booking.conftest import ALMATY, Clock

NOW = datetime(2026, 12, 9, 11, 0, tzinfo=ALMATY)
SLOT = datetime(2026, 12, 14, 10, 0, tzinfo=ALMATY)
REMINDERS = (timedelta(days=1), timedelta(hours=1))
_users = itertools.count(7_500_000)
_keys = itertools.count(1)


class PowerCut(BaseException):
    """The process dies here: nothing in the code may catch it and carry on
    (a background job survives an *error* of one item, not a power cut)."""


def cut(*_: Any, **__: Any) -> Any:
    raise PowerCut


async def book(
    store: BookingStore,
    user_id: int,
    starts_at: datetime = SLOT,
    *,
    windows: int = 1,
    replaces: str | None = None,
) -> Booked:
    return await store.book(
        user_id=user_id,
        service="duplicate",
        office_id="ast-psc1",
        windows=windows,
        starts_at=starts_at,
        lang="ru",
        key=f"{user_id}:{next(_keys)}",
        reminders=REMINDERS,
        now=NOW,
        replaces=replaces,
    )


async def rows(sessions: async_sessionmaker[AsyncSession], user_id: int) -> list[Booking]:
    async with sessions() as session:
        result = await session.execute(select(Booking).where(Booking.user_id == user_id))
        return list(result.scalars())


async def reminder_states(sessions: async_sessionmaker[AsyncSession], booking_id: int) -> list[str]:
    async with sessions() as session:
        result = await session.execute(
            select(BookingReminder.status)
            .where(BookingReminder.booking_id == booking_id)
            .order_by(BookingReminder.minutes_before)
        )
        return list(result.scalars())


async def test_a_crash_after_the_window_is_taken_books_nothing(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BookingStore(sessions)
    citizen, other = next(_users), next(_users)
    with monkeypatch.context() as patch:
        # The booking row is in; the process dies while adding its reminders.
        patch.setattr(storage.booking, "BookingReminder", cut)
        with pytest.raises(PowerCut):
            await book(store, citizen)
    assert await rows(sessions, citizen) == []
    # The window was not kept: someone else takes the one window of the slot.
    assert (await book(store, other)).created
    # And the citizen, trying again, is told the slot is taken (not "already booked").
    with pytest.raises(SlotFull):
        await book(store, citizen)


async def test_a_crash_in_the_middle_of_a_move_keeps_the_old_booking(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BookingStore(sessions)
    citizen = next(_users)
    made = await book(store, citizen)
    with monkeypatch.context() as patch:
        # The old booking is retired (its reminders cancelled); the process
        # dies before the new one is in.
        patch.setattr(BookingStore, "_take_window", cut)
        with pytest.raises(PowerCut):
            await book(store, citizen, SLOT + timedelta(hours=2), replaces=made.booking.code)
    [kept] = await rows(sessions, citizen)
    assert kept.status == ACTIVE and kept.code == made.booking.code
    assert await reminder_states(sessions, kept.id) == [REMINDER_PENDING, REMINDER_PENDING]
    moved = await book(store, citizen, SLOT + timedelta(hours=2), replaces=made.booking.code)
    assert moved.created and [b.status for b in await store.upcoming(citizen, NOW)] == [ACTIVE]


async def test_a_crash_in_the_middle_of_a_cancellation_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BookingStore(sessions)
    citizen = next(_users)
    made = await book(store, citizen)
    with monkeypatch.context() as patch:
        # Marked cancelled; the process dies before its reminders are.
        patch.setattr(storage.booking, "retire", cut)
        with pytest.raises(PowerCut):
            await store.cancel(citizen, made.booking.code, NOW)
    [kept] = await rows(sessions, citizen)
    assert kept.status == ACTIVE
    assert await reminder_states(sessions, kept.id) == [REMINDER_PENDING, REMINDER_PENDING]
    assert await store.cancel(citizen, made.booking.code, NOW) is not None
    assert await store.upcoming(citizen, NOW) == []


async def test_a_crash_between_marking_a_reminder_and_queueing_it_loses_none(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BookingStore(sessions)
    citizen = next(_users)
    made = await book(store, citizen)
    clock = Clock(SLOT - timedelta(days=1) + timedelta(minutes=1))
    loop = ReminderLoop(sessions, Translator(), Offices.load(), ALMATY, clock=clock)
    with monkeypatch.context() as patch:
        # The reminder is marked sent; the process dies before its message
        # is in the outbox.
        patch.setattr(outbox, "enqueue", cut)
        with pytest.raises(PowerCut):
            await loop.run_once()
    assert await reminder_states(sessions, made.booking.id) == [REMINDER_PENDING] * 2

    # After the restart it goes out, once.
    restarted = ReminderLoop(sessions, Translator(), Offices.load(), ALMATY, clock=clock)
    assert await restarted.run_once() == 1
    assert await restarted.run_once() == 0
    assert await reminder_states(sessions, made.booking.id) == [REMINDER_PENDING, REMINDER_SENT]
    async with sessions() as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(outbox.OutboxMessage)
            .where(outbox.OutboxMessage.chat_id == citizen)
        )
    assert queued == 1
