"""Every background task survives an injected exception.

The bot's background work (the outbox sender, booking reminders, idle
hand-offs, retention, the poller) used to stop for good, silently, at the
first exception of a pass (the sender, the poller), or to wait a whole
interval after one (a day for retention). Now a failed pass is logged
without personal data and retried after a short exponential backoff, and a
task that dies anyway is started again by its supervisor and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking.config import Offices
from actions.i18n import Translator
from bot.dispatcher import Shared
from bot.handoff_idle import IdleHandoffs
from bot.periodic import PeriodicJob, Supervisor
from bot.ratelimit import MemoryBuckets
from bot.reminders import ReminderLoop
from bot.retention import RetentionJob
from bot.sender import Pace, PacedSender
from bot.telegram import Poller, make_bot, poll
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from storage import outbox
from storage.handoffs import Handoffs
from tests.abuse.conftest import full_assistant
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

PERSONAL = "Ахметова Дана 770101400123 +77011112233"


class Injected(RuntimeError):
    pass


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def assistant(
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Assistant:
    return full_assistant(sessions, light, kb, calendar)


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(f"{new_id()}:BGFAULT", fake.url, retry=FAST_RETRY)
    yield client
    await client.session.close()


def failing(times: int, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`real`, raising (with personal data in the message) its first `times` calls."""
    calls = {"n": 0}

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= times:
            raise Injected(f"boom for {PERSONAL}")
        return await real(*args, **kwargs)

    return wrapper


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not check():
        if loop.time() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)
    return loop.time() - start


def no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        if record.exc_info and not record.exc_text:
            text += logging.Formatter().formatException(record.exc_info)
        assert "770101400123" not in text and "Ахметова" not in text, text


# -- the outbox sender ---------------------------------------------------------------------
async def test_the_sender_survives_failed_passes(
    sessions: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    bot: Bot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database (or Redis, for the pace) fails three passes in a row; a
    notification enqueued meanwhile goes out once it answers again."""
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(outbox, "due_heads", failing(3, outbox.due_heads))
    sender = PacedSender(bot, sessions, MemoryBuckets(), Pace(idle=0.05))
    task = asyncio.create_task(sender.run())
    try:
        user = new_id()
        async with sessions() as session, session.begin():
            await outbox.enqueue(session, user, "Өтінішіңіз қабылданды")
        took = await eventually(lambda: sender.sent == 1, 10, "notification delivered")
        assert len(fake.of("sendMessage", chat_id=user)) == 1
        assert not task.done() and sender.failures == 3
        print(f"delivered {took:.2f} s after enqueue, 3 failed passes")  # noqa: T201
    finally:
        await sender.stop()
        await asyncio.wait_for(task, 10)
    failed = [r for r in caplog.records if "pass failed" in r.getMessage()]
    assert len(failed) == 3 and all("Injected" in r.getMessage() for r in failed)
    no_personal_data(caplog)


async def test_a_dead_sender_is_restarted_and_counted(
    sessions: async_sessionmaker[AsyncSession], fake: FakeTelegram, bot: Bot
) -> None:
    """Even an exception outside a pass (here: the run itself, twice) does not
    end the sending: its supervisor starts it again and counts."""
    sender = PacedSender(bot, sessions, MemoryBuckets(), Pace(idle=0.05))
    supervisor = Supervisor(base=0.05, cap=0.2)
    supervisor.start("outbox", failing(2, sender.run))
    try:
        user = new_id()
        async with sessions() as session, session.begin():
            await outbox.enqueue(session, user, "Өтінішіңіз қабылданды")
        await eventually(lambda: bool(fake.of("sendMessage", chat_id=user)), 10, "delivered")
        assert supervisor.restarts == {"outbox": 2}
    finally:
        await sender.stop()
        await supervisor.stop(timeout=10)


# -- the periodic jobs -------------------------------------------------------------------
def jobs(
    sessions: async_sessionmaker[AsyncSession], assistant: Assistant, calendar: Calendar
) -> dict[str, PeriodicJob]:
    """The three jobs as the bot builds them: their own intervals (30 s, 10 min, a day)."""
    return {
        "reminders": ReminderLoop(sessions, Translator(), Offices.load(), calendar.tz),
        "idle hand-offs": IdleHandoffs(assistant, Handoffs(sessions), None, idle_hours=24),
        "retention": RetentionJob(sessions, first_delay=0),
    }


@pytest.mark.parametrize("name", ["reminders", "idle hand-offs", "retention"])
async def test_a_periodic_job_retries_a_failed_pass_soon(
    name: str,
    sessions: async_sessionmaker[AsyncSession],
    assistant: Assistant,
    calendar: Calendar,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed pass is retried within seconds, not after the job's interval
    (30 s, 10 min, a day): the first tries come after a short backoff."""
    caplog.set_level(logging.INFO)
    job = jobs(sessions, assistant, calendar)[name]
    job.run_once = failing(2, job.run_once)  # type: ignore[method-assign]
    job.start()
    try:
        took = await eventually(lambda: job.passes >= 1, 10, f"{name}: a good pass")
        assert job.failures == 2 and job.restarts == 0
        print(f"{name}: good pass {took:.1f} s after two failures")  # noqa: T201
    finally:
        await asyncio.wait_for(job.stop(), 30)
    no_personal_data(caplog)


@pytest.mark.parametrize("name", ["reminders", "idle hand-offs", "retention"])
async def test_a_periodic_job_that_dies_is_restarted(
    name: str,
    sessions: async_sessionmaker[AsyncSession],
    assistant: Assistant,
    calendar: Calendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exception outside a pass (the loop's own code) kills the loop: it is
    started again and counted, and its passes go on."""
    job = jobs(sessions, assistant, calendar)[name]
    calls = {"n": 0}

    def more_due() -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Injected(f"loop bug for {PERSONAL}")
        return False

    monkeypatch.setattr(job, "more_due", more_due)
    job.start()
    try:
        await eventually(lambda: job.passes >= 2, 15, f"{name}: a pass after the restart")
        assert job.restarts == 1
    finally:
        await asyncio.wait_for(job.stop(), 30)


# -- the poller ---------------------------------------------------------------------------
async def test_the_poller_is_restarted_and_the_update_handled(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poller's loop dies (an exception outside a Bot API call): it is
    started again and the update in question handled, once; a stop still
    ends the polling."""
    seen: list[str] = []
    dp = Dispatcher()

    async def on_text(message: Message) -> None:
        seen.append(message.text or "")

    dp.message.register(on_text, F.text)
    monkeypatch.setattr(Poller, "_start", failing(1, Poller._start))
    stopping = asyncio.Event()
    supervisor = Supervisor(base=0.05, cap=0.2)
    polling = asyncio.create_task(poll(dp, bot, Shared(), stopping=stopping, supervisor=supervisor))
    try:
        fake.push(fake.text(new_id(), "сәлем"))
        await eventually(lambda: seen == ["сәлем"], 15, "the update handled")
        assert supervisor.restarts["poller"] == 1
    finally:
        stopping.set()
        await asyncio.wait_for(polling, 30)
    assert seen == ["сәлем"]
