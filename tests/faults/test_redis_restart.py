"""Redis restarted under the bot: a private redis-server (no persistence,
as a crashed cache would come back) on a free port. The state store and the
update de-duplication keep working across the restart, the bot answers
while Redis is down, and a conversation whose state was lost restarts
politely."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.events import Event
from actions.i18n import Translator
from actions.state import RedisStateStore
from bot.dispatcher import build_dispatcher
from bot.telegram import make_bot, make_shared, redis_client
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from tests.abuse.conftest import full_assistant
from tests.fakes.telegram_api import FakeTelegram
from tests.redis_server import RedisServer
from tests.telegram.tg_support import FAST_RETRY, new_id

pytestmark = pytest.mark.slow
T = Translator()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


async def test_the_bots_redis_client_survives_a_restart(
    redis_server: RedisServer,
) -> None:
    """The bot's own client retries on a dropped connection."""
    await redis_server.start()
    client = redis_client(redis_server.url)
    try:
        assert await client.set("k", "v")
        redis_server.stop()
        await redis_server.start()
        assert await client.get("k") is None  # reconnected; the data is gone (no persistence)
        assert await client.set("k", "w")
    finally:
        await client.aclose()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    await redis_server.start()
    client = redis_client(redis_server.url)
    yield client
    await client.aclose()


async def test_state_store_and_dialogue_survive_a_restart(
    redis_server: RedisServer,
    redis: Any,
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    assistant = full_assistant(sessions, light, kb, calendar)
    assistant.states = RedisStateStore(redis)
    user = new_id()
    for payload in ("lang:ru", "ask:book_queue", "bk:s:duplicate", "bk:o:ast-psc1"):
        await assistant.handle(Event(user, button=payload))
    days = await assistant.handle(Event(user, button="bk:d:20261214"))
    assert any(b.payload == "bk:t:1000" for r in days.replies for b in r.flat_buttons())
    assert (await assistant.states.load(user)).flow == "bk"

    redis_server.stop()
    await redis_server.start()  # back, empty

    # The booking's state is gone: the stale button says so and starts over, no exception.
    stale = await assistant.handle(Event(user, button="bk:t:1000"))
    assert T("ru", "bk-stale") in "\n".join(r.text for r in stale.replies)
    # The language lives on the user's row: still Russian.
    question = await assistant.handle(Event(user, text="какие документы нужны для дубликата"))
    assert question.lang == "ru" and question.intent == "ask_documents"
    assert (await assistant.states.load(user)).lang == "ru"  # state written again


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_the_bot_answers_through_a_restart_and_once_only(
    redis_server: RedisServer,
    redis: Any,
    fake: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    assistant = full_assistant(sessions, light, kb, calendar)
    assistant.states = RedisStateStore(redis)
    bot: Bot = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
    dp = build_dispatcher(assistant, sessions, make_shared(redis, prefix="tg:fault:"))
    user = new_id()

    async def feed(update: dict[str, Any]) -> list[str]:
        mark = fake.mark()
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
        return [c.text for c in fake.of("sendMessage", chat_id=user, since=mark)]

    try:
        first = fake.text(user, "какие документы нужны для дубликата диплома")
        assert await feed(first)
        assert await feed(first) == []  # a redelivered update: dropped

        redis_server.stop()
        down = await feed(fake.text(user, "график работы ЦОН"))
        # Redis is down: the citizen still gets an answer (the apology, with the way forward).
        assert down, "no answer while Redis was down"

        await redis_server.start()
        second = fake.text(user, "сколько дней делают дубликат")
        answered = await feed(second)
        assert answered and all(T("kk", "tg-error") != t for t in answered)
        assert await feed(second) == []  # de-duplication works again after the restart
    finally:
        await bot.session.close()
