"""Getting messages out: request retries, the outbox, the paced sender."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramNetworkError, TelegramRetryAfter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.ratelimit import MemoryBuckets
from bot.sender import Pace, PacedSender, RetryPolicy
from bot.telegram import make_bot
from storage import outbox
from storage.db import make_sessionmaker
from storage.models import utcnow
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

FAST_PACE = Pace(per_chat=10.0, total=40.0, concurrency=4, idle=0.05, lease=30.0)


# -- retries ----------------------------------------------------------------------
async def test_forbidden_is_not_retried(fake: FakeTelegram, bot: Bot) -> None:
    user = new_id()
    fake.fail_next("sendMessage", 1, status=403)
    mark = fake.mark()
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(user, "сәлем")
    assert len(fake.of("sendMessage", since=mark, ok_only=False)) == 1


async def test_a_retry_after_too_long_is_given_up(fake: FakeTelegram) -> None:
    impatient = make_bot(f"{new_id()}:TEST", fake.url, retry=RetryPolicy(max_retry_after=5))
    try:
        fake.fail_next("sendMessage", 1, status=429, retry_after=30)
        with pytest.raises(TelegramRetryAfter):
            await impatient.send_message(new_id(), "сәлем")
    finally:
        await impatient.session.close()


async def test_network_errors_are_retried_with_backoff_then_raised() -> None:
    # Nothing listens there: every attempt fails to connect.
    offline = make_bot(f"{new_id()}:TEST", "http://127.0.0.1:9", retry=FAST_RETRY)
    try:
        with pytest.raises(TelegramNetworkError):
            await offline.send_message(1, "сәлем")
    finally:
        await offline.session.close()


async def test_a_slow_answer_is_retried(fake: FakeTelegram) -> None:
    user = new_id()
    quick = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
    quick.session.timeout = 0.3
    try:
        fake.delay_next("sendMessage", 1.0)
        message = await quick.send_message(user, "сәлем")
        assert message.text == "сәлем"
    finally:
        await quick.session.close()
    # The slow first attempt may have reached "Telegram" as well: the
    # unavoidable cost of retrying a timeout (at least once, not exactly once).
    await asyncio.sleep(0.8)
    assert 1 <= len(fake.of("sendMessage", chat_id=user)) <= 2


# -- the outbox (SQLite, and PostgreSQL with TEST_DATABASE_URL) ------------------------
async def test_enqueue_with_a_key_is_idempotent(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    chat, key = new_id(), f"status:{new_id()}:accepted"
    async with sessions() as session, session.begin():
        first = await outbox.enqueue(session, chat, "қабылданды", key=key)
        again = await outbox.enqueue(session, chat, "қабылданды", key=key)
        plain = await outbox.enqueue(
            session, chat, "тағы бір", buttons=[[{"text": "M", "payload": "menu"}]]
        )
    assert first is not None and again is None and plain is not None
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(outbox.OutboxMessage).where(outbox.OutboxMessage.chat_id == chat)
                )
            )
            .scalars()
            .all()
        )
    assert [r.text for r in rows] == ["қабылданды", "тағы бір"]
    assert rows[1].buttons == [[{"text": "M", "payload": "menu"}]]


async def test_a_row_is_claimed_by_one_worker_and_marked_once(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    chat = new_id()
    async with sessions() as session, session.begin():
        row_id = await outbox.enqueue(session, chat, "хабар")
    assert row_id is not None
    now, lease = utcnow(), timedelta(seconds=30)

    async def claim(worker: str) -> bool:
        async with sessions() as session, session.begin():
            return await outbox.claim(session, row_id, worker, now, lease)

    results = await asyncio.gather(*(claim(f"w{i}") for i in range(5)))
    assert results.count(True) == 1
    winner = f"w{results.index(True)}"
    async with sessions() as session, session.begin():
        assert not await outbox.mark_sent(session, row_id, "someone-else", now, 1)
        assert await outbox.mark_sent(session, row_id, winner, now, 99)
        assert not await outbox.mark_sent(session, row_id, winner, now, 99)  # once
        row = await session.get(outbox.OutboxMessage, row_id)
    assert row is not None and row.status == outbox.SENT and row.telegram_message_id == 99
    async with sessions() as session, session.begin():
        assert not await outbox.claim(session, row_id, "late", now, lease)


async def test_an_interrupted_send_becomes_unknown_not_pending(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    chat = new_id()
    async with sessions() as session, session.begin():
        row_id = await outbox.enqueue(session, chat, "хабар")
    assert row_id is not None
    past = utcnow() - timedelta(minutes=5)
    async with sessions() as session, session.begin():
        assert await outbox.claim(session, row_id, "dead", past, timedelta(seconds=30))
    async with sessions() as session, session.begin():
        assert await outbox.expire_leases(session, utcnow()) >= 1
        heads = await outbox.due_heads(session, utcnow(), 1000)
        assert all(r.chat_id != chat for r in heads)
        row = await session.get(outbox.OutboxMessage, row_id)
    assert row is not None and row.status == outbox.UNKNOWN


async def test_due_heads_give_each_chat_its_oldest_row(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    busy, quiet, later = new_id(), new_id(), new_id()
    async with sessions() as session, session.begin():
        for i in range(5):
            await outbox.enqueue(session, busy, f"busy {i}")
        await outbox.enqueue(session, quiet, "quiet")
        await outbox.enqueue(session, later, "later", not_before=utcnow() + timedelta(hours=1))
    async with sessions() as session:
        heads = await outbox.due_heads(session, utcnow(), 1000)
    mine = [(r.chat_id, r.text) for r in heads if r.chat_id in (busy, quiet, later)]
    assert mine == [(busy, "busy 0"), (quiet, "quiet")]


# -- the paced sender --------------------------------------------------------------------
async def run_sender_until(
    sender: PacedSender,
    sessions: async_sessionmaker[AsyncSession],
    chats: set[int],
    timeout: float = 15,
) -> None:
    task = asyncio.create_task(sender.run())
    try:
        async with asyncio.timeout(timeout):
            while True:
                async with sessions() as session:
                    rows = await session.execute(
                        select(outbox.OutboxMessage.status).where(
                            outbox.OutboxMessage.chat_id.in_(chats)
                        )
                    )
                    if all(s in (outbox.SENT, outbox.FAILED) for s in rows.scalars()):
                        break
                await asyncio.sleep(0.05)
    finally:
        await sender.stop()
        await task


async def test_sender_keeps_the_pace_per_chat_and_in_all(
    fake: FakeTelegram, bot: Bot, sqlite_engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    busy = new_id()
    others = [new_id() for _ in range(30)]
    async with sessions() as session, session.begin():
        for i in range(4):
            await outbox.enqueue(session, busy, f"busy {i}")
        for chat in others:
            await outbox.enqueue(
                session, chat, "news", buttons=[[{"text": "Мәзір", "payload": "menu"}]]
            )
    mark = fake.mark()
    sender = PacedSender(bot, sessions, MemoryBuckets(), FAST_PACE)
    await run_sender_until(sender, sessions, {busy, *others})

    sent = fake.of("sendMessage", since=mark)
    assert sender.sent == len(sent) == 34
    busy_calls = [c for c in sent if c.chat_id == busy]
    assert [c.text for c in busy_calls] == [f"busy {i}" for i in range(4)]  # in order
    # Paced when sent; measured when received, hence the allowance for
    # jitter on a loaded machine.
    gaps = [b.arrived - a.arrived for a, b in zip(busy_calls, busy_calls[1:], strict=False)]
    assert min(gaps) >= 1 / FAST_PACE.per_chat - 0.05
    times = sorted(c.arrived for c in sent)
    for i, start in enumerate(times):
        assert len([t for t in times[i:] if t - start < 1.0]) <= FAST_PACE.total + 3
    assert times[-1] - times[0] >= (len(sent) - 1) / FAST_PACE.total - 0.1
    assert all(c.payloads == ["menu"] for c in sent if c.chat_id != busy)


async def test_a_restarted_sender_sends_nothing_twice(
    fake: FakeTelegram, bot: Bot, sqlite_engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    chats = [new_id() for _ in range(40)]
    async with sessions() as session, session.begin():
        for chat in chats:
            await outbox.enqueue(session, chat, f"хабар {chat}")
    mark = fake.mark()
    slow = Pace(per_chat=10.0, total=40.0, concurrency=4, idle=0.05)
    first = PacedSender(bot, sessions, MemoryBuckets(), slow, worker="first")
    task = asyncio.create_task(first.run())
    while len(fake.of("sendMessage", since=mark)) < 10:
        await asyncio.sleep(0.01)
    await first.stop()  # SIGTERM: the sends in flight finish and are recorded
    await task
    # A new process, new buckets, same database.
    second = PacedSender(bot, sessions, MemoryBuckets(), slow, worker="second")
    await run_sender_until(second, sessions, set(chats))

    counts = Counter(c.chat_id for c in fake.of("sendMessage", since=mark))
    assert set(counts) == set(chats)
    assert set(counts.values()) == {1}
    assert first.sent + second.sent == len(chats)
    assert first.sent >= 10 and second.sent >= 1


async def test_sender_two_workers_at_once_send_each_row_once(
    fake: FakeTelegram, bot: Bot, sqlite_engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    chats = [new_id() for _ in range(30)]
    async with sessions() as session, session.begin():
        for chat in chats:
            await outbox.enqueue(session, chat, "екі жұмысшы")
    mark = fake.mark()
    buckets = MemoryBuckets()  # shared, as Redis would share it
    a = PacedSender(bot, sessions, buckets, FAST_PACE, worker="a")
    b = PacedSender(bot, sessions, buckets, FAST_PACE, worker="b")
    await asyncio.gather(
        run_sender_until(a, sessions, set(chats)), run_sender_until(b, sessions, set(chats))
    )
    counts = Counter(c.chat_id for c in fake.of("sendMessage", since=mark))
    assert set(counts) == set(chats) and set(counts.values()) == {1}


async def test_sender_waits_out_429_and_fails_a_blocked_chat(
    fake: FakeTelegram, bot: Bot, sqlite_engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    ok, blocked = new_id(), new_id()
    async with sessions() as session, session.begin():
        await outbox.enqueue(session, ok, "жету керек")
    fake.fail_next("sendMessage", 1, status=429, retry_after=1)
    sender = PacedSender(bot, sessions, MemoryBuckets(), FAST_PACE)
    await run_sender_until(sender, sessions, {ok})
    assert fake.texts(ok) == ["жету керек"]

    async with sessions() as session, session.begin():
        await outbox.enqueue(session, blocked, "жетпейді")
    fake.fail_next("sendMessage", 1, status=403)
    sender = PacedSender(bot, sessions, MemoryBuckets(), FAST_PACE)
    await run_sender_until(sender, sessions, {blocked})
    async with sessions() as session:
        row = (
            await session.execute(
                select(outbox.OutboxMessage).where(outbox.OutboxMessage.chat_id == blocked)
            )
        ).scalar_one()
    assert row.status == outbox.FAILED and "Forbidden" in (row.last_error or "")


async def test_sender_does_not_resend_an_interrupted_row(
    fake: FakeTelegram, bot: Bot, sqlite_engine: AsyncEngine
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    chat = new_id()
    async with sessions() as session, session.begin():
        row_id = await outbox.enqueue(session, chat, "бәлкім жетті")
        await outbox.enqueue(session, new_id(), "басқа")
    assert row_id is not None
    # A worker took it and died mid-send long ago.
    async with sessions() as session, session.begin():
        await session.execute(
            update(outbox.OutboxMessage)
            .where(outbox.OutboxMessage.id == row_id)
            .values(
                status=outbox.SENDING,
                claimed_by="dead",
                claimed_until=utcnow() - timedelta(minutes=1),
            )
        )
    sender = PacedSender(bot, sessions, MemoryBuckets(), FAST_PACE)
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.5)
    await sender.stop()
    await task
    assert fake.texts(chat) == []
    async with sessions() as session:
        row = await session.get(outbox.OutboxMessage, row_id)
    assert row is not None and row.status == outbox.UNKNOWN
