"""Reminders go out through the outbox and the paced sender to a fake Bot API
server: once each, none for a cancelled booking, none twice after a restart
(a new loop and a new sender on the same database), on both back ends."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from aiogram import Bot
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.booking import Offices
from actions.i18n import Translator
from bot.ratelimit import MemoryBuckets
from bot.reminders import ReminderLoop
from bot.sender import Pace, PacedSender
from bot.telegram import make_bot
from storage import outbox
from storage.booking import Booked, BookingStore
from tests.booking.conftest import ALMATY, Clock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

VISIT = datetime(2026, 12, 14, 10, 0, tzinfo=ALMATY)
BOOKED_AT = datetime(2026, 12, 9, 11, 0, tzinfo=ALMATY)
FAST = Pace(per_chat=20.0, total=50.0, concurrency=4, idle=0.05, lease=30.0)
_keys = itertools.count(1)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
    yield client
    await client.session.close()


class Process:
    """What one bot process runs for reminders: the loop and the sender."""

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        offices: Offices,
        clock: Clock,
    ) -> None:
        self.loop = ReminderLoop(sessions, Translator(), offices, ALMATY, clock=clock)
        self.sender = PacedSender(bot, sessions, MemoryBuckets(), FAST)
        self.task = asyncio.create_task(self.sender.run())

    async def stop(self) -> None:
        await self.sender.stop()
        await self.task


@pytest.fixture
def clock() -> Clock:
    return Clock(BOOKED_AT)


async def book(store: BookingStore, user_id: int, at: datetime = VISIT) -> Booked:
    return await store.book(
        user_id=user_id,
        service="duplicate",
        office_id="ast-psc1",
        windows=3,
        starts_at=at,
        lang="ru",
        key=f"{user_id}:{next(_keys)}",
        reminders=(timedelta(days=1), timedelta(hours=1)),
        now=BOOKED_AT,
    )


async def outbox_rows(sessions: async_sessionmaker[AsyncSession], chat: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(outbox.OutboxMessage)
            .where(outbox.OutboxMessage.chat_id == chat)
        )
    return int(count or 0)


async def test_each_reminder_is_sent_once_even_across_a_restart(
    fake: FakeTelegram,
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    offices: Offices,
    clock: Clock,
) -> None:
    store = BookingStore(sessions)
    user = new_id()
    made = await book(store, user)
    first = Process(bot, sessions, offices, clock)
    try:
        assert await first.loop.run_once() == 0  # nothing due yet
        clock.now = VISIT - timedelta(days=1) + timedelta(minutes=1)
        assert await first.loop.run_once() == 1
        [call] = await fake.wait_for("sendMessage", chat_id=user)
        assert "Напоминание" in call.text and made.booking.code in call.text
        assert "14.12.2026 (пн), 10:00" in call.text and "(үлгі / образец)" in call.text
        assert f"bk:cn:{made.booking.code}" in call.payloads
        assert await first.loop.run_once() == 0
    finally:
        await first.stop()

    # A restart: a new loop and sender, same database, same moment.
    second = Process(bot, sessions, offices, clock)
    try:
        assert await second.loop.run_once() == 0
        clock.now = VISIT - timedelta(minutes=59)
        assert await second.loop.run_once() == 1
        await fake.wait_for("sendMessage", chat_id=user, count=2)
        assert await second.loop.run_once() == 0
        await asyncio.sleep(0.3)
    finally:
        await second.stop()
    texts = fake.texts(user)
    assert len(texts) == 2 and all(made.booking.code in t for t in texts)


async def test_a_cancelled_booking_gets_no_reminder(
    fake: FakeTelegram,
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    offices: Offices,
    clock: Clock,
) -> None:
    store = BookingStore(sessions)
    early, late = new_id(), new_id()
    cancelled_early = await book(store, early)
    cancelled_late = await book(store, late)
    await store.cancel(early, cancelled_early.booking.code, BOOKED_AT)

    process = Process(bot, sessions, offices, clock)
    try:
        # The sender is slow to start: the reminder waits in the outbox...
        await process.sender.stop()
        await process.task
        clock.now = VISIT - timedelta(hours=23)
        assert await process.loop.run_once() == 1  # only `late`'s
        assert await outbox_rows(sessions, late) == 1
        # ...and is withdrawn when the booking is cancelled before it goes.
        await store.cancel(late, cancelled_late.booking.code, clock.now)
        assert await outbox_rows(sessions, late) == 0
    finally:
        await process.stop()

    again = Process(bot, sessions, offices, clock)
    try:
        clock.now = VISIT - timedelta(minutes=30)
        assert await again.loop.run_once() == 0
        await asyncio.sleep(0.3)
    finally:
        await again.stop()
    assert fake.texts(early) == [] and fake.texts(late) == []


async def test_after_downtime_only_the_latest_reminder_goes(
    fake: FakeTelegram,
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    offices: Offices,
    clock: Clock,
) -> None:
    store = BookingStore(sessions)
    user, gone = new_id(), new_id()
    await book(store, user)
    await book(store, gone, VISIT - timedelta(hours=1))
    process = Process(bot, sessions, offices, clock)
    try:
        # Down from before the first moment until half an hour before the
        # visit: of `user`'s two due reminders only the hour-before one goes;
        # `gone`'s visit has begun, so it gets nothing late.
        clock.now = VISIT - timedelta(minutes=30)
        assert await process.loop.run_once() == 1
        await fake.wait_for("sendMessage", chat_id=user)
        assert await process.loop.run_once() == 0
        await asyncio.sleep(0.3)
    finally:
        await process.stop()
    assert len(fake.texts(user)) == 1 and fake.texts(gone) == []


async def test_the_loop_drains_a_crowd_of_due_reminders_at_once(
    sessions: async_sessionmaker[AsyncSession], offices: Offices, clock: Clock
) -> None:
    store = BookingStore(sessions)
    people = [new_id() for _ in range(5)]
    for i, person in enumerate(people):
        await book(store, person, VISIT + timedelta(minutes=15 * (i // 3)))
    clock.now = VISIT - timedelta(minutes=50)
    # Small batches and a long pause: all five still go in the first round.
    loop = ReminderLoop(
        sessions, Translator(), offices, ALMATY, clock=clock, interval=60.0, batch=2
    )
    loop.start()
    try:
        for _ in range(100):
            if loop.queued == 5:
                break
            await asyncio.sleep(0.02)
    finally:
        await loop.stop()
    assert loop.queued == 5
    assert [await outbox_rows(sessions, p) for p in people] == [1] * 5
