"""Redis down while 20 citizens ask questions: answers, not apologies.

Questions need no shared state. The bot as `bot/app.py` composes it (the
state store) and `bot/telegram.py` shares Redis (update de-duplication,
one-press claims, flood buckets, per-citizen locks as webhook workers use
them), with a private redis-server that is killed under it: every question
is answered from the knowledge base, in the citizen's language, with the
conversation kept in process memory; the outage is logged once, not once per
message; when Redis is back the conversations are written back to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.types import Update

from actions.i18n import Translator
from bot.app import App, build_app
from bot.dispatcher import build_dispatcher
from bot.settings import Settings
from bot.telegram import make_bot, make_shared
from tests.fakes.telegram_api import FakeTelegram
from tests.redis_server import RedisServer
from tests.telegram.tg_support import FAST_RETRY, NO_RASA_URL, new_id

pytestmark = pytest.mark.slow
T = Translator()
CITIZENS = 20
QUESTIONS = {
    "ru": ["какие документы нужны для дубликата диплома", "сколько стоит дубликат диплома"],
    "kk": [
        "дипломның телнұсқасын алу үшін қандай құжаттар керек",
        "диплом телнұсқасы қанша тұрады",
    ],
}
APOLOGIES = {
    T(lang, key)
    for lang in ("kk", "ru")
    for key in ("tg-error", "tg-db-down-text", "tg-db-down-press")
}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def app(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[App]:
    await redis_server.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        redis_url=redis_server.url,
        nlu_url=NO_RASA_URL,
        bot_token=None,
    )
    async with build_app(settings, start_nlu=False) as built:
        yield built


def knowledge_texts(app: App, lang: str) -> list[str]:
    """The first line of every answer the knowledge base has, in `lang`."""
    return [e.text[lang].splitlines()[0] for e in app.assistant.kb.entries]


async def test_redis_down_while_20_citizens_ask(
    app: App,
    redis_server: RedisServer,
    fake: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot: Bot = make_bot(f"{new_id()}:REDISDOWN", fake.url, retry=FAST_RETRY)
    shared = make_shared(app.redis, prefix=f"tg:down{new_id()}:", shared_locks=True)
    dp = build_dispatcher(app.assistant, app.sessions, shared)  # type: ignore[arg-type]
    citizens = [(new_id(), "ru" if i % 2 else "kk") for i in range(CITIZENS)]

    async def ask(user: int, lang: str, text: str) -> list[str]:
        mark = fake.mark()
        update = fake.text(user, text, lang=lang)
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
        return [c.text for c in fake.of("sendMessage", chat_id=user, since=mark)]

    async def conversation(user: int, lang: str) -> list[list[str]]:
        return [await ask(user, lang, q) for q in QUESTIONS[lang]]

    try:
        # Redis up: everyone has asked once (the conversations live in Redis).
        await asyncio.gather(*(ask(u, lang, QUESTIONS[lang][0]) for u, lang in citizens))

        redis_server.stop()
        caplog.set_level(logging.INFO)
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(*(conversation(u, lang) for u, lang in citizens))
        took = loop.time() - started

        answers = apologies = 0
        for (user, lang), replies in zip(citizens, results, strict=True):
            other = "ru" if lang == "kk" else "kk"
            for texts in replies:
                assert texts, f"citizen {user}: no reply at all"
                if any(t in APOLOGIES for t in texts):
                    apologies += 1
                    continue
                said = "\n".join(texts)
                # From the knowledge base, in the citizen's language.
                assert any(k in said for k in knowledge_texts(app, lang)), said[:300]
                assert not any(k in said for k in knowledge_texts(app, other)), said[:300]
                answers += 1
        print(  # noqa: T201
            f"Redis down: {answers} answers, {apologies} apologies for "
            f"{CITIZENS * len(QUESTIONS['ru'])} questions in {took:.1f} s"
        )
        assert apologies == 0 and answers == CITIZENS * len(QUESTIONS["ru"])

        # Said once (per store that noticed), not once per message.
        gone = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert 1 <= len(gone) <= 2, [r.getMessage() for r in gone]
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage()[:200] for r in errors]

        # Back (empty, as a crashed cache comes back): the conversations kept in
        # memory meanwhile go back to it as the citizens write again.
        await redis_server.start()
        await asyncio.sleep(2.5)  # the outage's retry delay
        user, lang = citizens[1]
        again = await ask(user, lang, QUESTIONS[lang][0])
        assert again and not any(t in APOLOGIES for t in again)
        conv = await app.assistant.states.load(user)
        assert conv.lang == lang and len(conv.recent) >= 6  # the outage's turns kept
        assert await app.redis.exists(f"conv:{user}")
        assert [r for r in caplog.records if "answers again" in r.getMessage()]
    finally:
        await bot.session.close()


async def test_an_apology_that_must_be_made_is_in_the_citizens_language(
    app: App, redis_server: RedisServer, fake: FakeTelegram
) -> None:
    """Something that truly needs Redis (here: a state store without the
    memory fallback) fails while it is down: the apology comes in the
    citizen's language (their Telegram app's, as nothing else is known),
    not in Kazakh to a Russian speaker."""
    from actions.state import RedisStateStore

    bot: Bot = make_bot(f"{new_id()}:REDISDOWN", fake.url, retry=FAST_RETRY)
    app.assistant.states = RedisStateStore(app.redis)
    shared = make_shared(app.redis, prefix=f"tg:down{new_id()}:", shared_locks=True)
    dp = build_dispatcher(app.assistant, app.sessions, shared)  # type: ignore[arg-type]
    try:
        redis_server.stop()
        for lang in ("ru", "kk"):
            user = new_id()
            mark = fake.mark()
            update = fake.text(user, QUESTIONS[lang][0], lang=lang)
            await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
            texts = [c.text for c in fake.of("sendMessage", chat_id=user, since=mark)]
            assert texts == [T(lang, "tg-error")], texts
    finally:
        await bot.session.close()
