"""A burst of short messages is read as one message (bot/bursts.py).

Handler level, as test_telegram_handlers.py: update JSON through the
Dispatcher, a Bot talking HTTP to the fake Bot API, the light NLU. The
pipeline has the production defaults here (flood policy, burst wait), in
memory and, with TEST_REDIS_URL, in Redis.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncEngine

from actions.assistant import EMPTY_HANDED
from actions.events import Event, Outcome, Reply
from actions.state import Outage, RedisStateStore
from bot.bursts import BURST_WAIT, FallbackLatest, MemoryLatest, RedisLatest
from bot.dispatcher import Shared, build_dispatcher
from bot.telegram import make_shared
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from storage.db import make_sessionmaker
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import Harness, make_assistant, new_id

BURST = ["здравствуйте", "у меня вопрос", "я потеряла диплом", "КазНУ", "что мне делать"]
QUESTION = "Какие документы нужны для получения дубликата диплома?"


@pytest.fixture
async def h(
    fake: FakeTelegram,
    bot: Bot,
    sqlite_engine: AsyncEngine,
    redis_or_none: Any,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Harness:
    """The pipeline as the bot process builds it: default policies, state in
    memory or (like several workers) in Redis."""
    sessions = make_sessionmaker(sqlite_engine)
    if redis_or_none is None:
        assistant = make_assistant(light, kb, calendar, sessions)
        shared = Shared()
    else:
        prefix = f"test:{new_id()}:"
        states = RedisStateStore(redis_or_none, prefix=prefix + "conv")
        assistant = make_assistant(light, kb, calendar, sessions, states)
        shared = make_shared(redis_or_none, prefix=prefix)
    return Harness(
        fake, bot, build_dispatcher(assistant, sessions, shared), assistant, sessions, shared
    )


def spy_outcomes(h: Harness, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Outcome]]:
    """What the assistant answered each message, whether sent or not."""
    seen: list[tuple[str, Outcome]] = []
    original = h.assistant.handle

    async def handle(event: Event) -> Outcome:
        outcome = await original(event)
        seen.append((event.text or "", outcome))
        return outcome

    monkeypatch.setattr(h.assistant, "handle", handle)
    return seen


async def type_burst(h: Harness, user: int, texts: list[str], gap: float) -> tuple[int, float]:
    """The citizen types `texts`, `gap` seconds apart, without waiting for
    replies; return the call-log mark taken just before the last message and
    the seconds from the first message to the last."""
    tasks = []
    last = h.fake.mark()
    started = span = time.monotonic()
    for i, text in enumerate(texts):
        if i:
            await asyncio.sleep(gap)
        last, span = h.fake.mark(), time.monotonic() - started
        tasks.append(asyncio.create_task(h.feed(h.fake.text(user, text))))
    await asyncio.gather(*tasks)
    return last, span


def sent_between(fake: FakeTelegram, user: int, start: int, end: int) -> list[str]:
    return [
        c.text
        for c in fake.calls[start:end]
        if c.method == "sendMessage" and c.chat_id == user and c.ok
    ]


def texts_of(outcome: Outcome) -> list[str]:
    return [r.text for r in outcome.replies]


async def test_a_burst_is_answered_once_at_its_end(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, fake = new_id(), h.fake
    await h.say(new_id(), QUESTION)  # warm: the first parse of a process is slower
    outcomes = spy_outcomes(h, monkeypatch)
    mark = fake.mark()

    last, span = await type_burst(h, user, BURST, gap=0.2)
    assert span < 1.5  # five messages in about a second

    assert [text for text, _ in outcomes] == BURST  # every message was read
    *before, final = [o for _, o in outcomes]
    # The noise the bot would have sent: a greeting, "I answer questions
    # about...", "not understood".
    noise = [o for o in before if o.intent in EMPTY_HANDED]
    assert noise and noise[0].intent == "greet" and all(o.replies for o in noise)
    answers = [o for o in before if o.intent not in EMPTY_HANDED]
    # Nothing (or only real answers, should the NLU understand a piece) before the last message...
    assert sent_between(fake, user, mark, last) == [t for o in answers for t in texts_of(o)]
    # ... and the bot's reply to it after: the question, read with the fragments.
    assert fake.texts(user, since=last) == texts_of(final)
    assert final.replies
    assert h.assistant.t("ru", "tg-flood") not in fake.texts(user, since=mark)
    assert fake.of("sendChatAction", chat_id=user, since=mark), "typing while waiting"


async def test_eight_quick_messages_are_not_taken_for_a_flood(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, fake = new_id(), h.fake
    await h.say(new_id(), QUESTION)  # warm
    outcomes = spy_outcomes(h, monkeypatch)
    texts = [*BURST[:4], "бакалавр", "в 2015 году", "диплом утерян", "что мне делать"]
    mark = fake.mark()

    _, span = await type_burst(h, user, texts, gap=0.25)

    assert span < 2.0  # eight messages in under two seconds
    assert [text for text, _ in outcomes] == texts  # none dropped by the flood guard
    assert h.assistant.t("ru", "tg-flood") not in fake.texts(user, since=mark)
    *before, final = [o for _, o in outcomes]
    expected = [t for o in before if o.intent not in EMPTY_HANDED for t in texts_of(o)]
    assert fake.texts(user, since=mark) == [*expected, *texts_of(final)]


async def test_a_greeting_alone_is_answered_after_the_wait(h: Harness) -> None:
    user, fake = new_id(), h.fake
    mark = fake.mark()
    started = time.monotonic()
    [reply] = await h.say(user, "здравствуйте")
    assert reply.text == h.assistant.t("ru", "greet")
    assert reply.at - started >= BURST_WAIT * 0.95
    [typing] = fake.of("sendChatAction", chat_id=user, since=mark)
    assert typing.params["action"] == "typing"
    assert typing.at < reply.at


async def test_a_question_is_answered_without_the_wait(h: Harness) -> None:
    user, fake = new_id(), h.fake
    await h.say(user, QUESTION)  # warm: the first parse of a process is slower
    mark = fake.mark()
    started = time.monotonic()
    [reply] = await h.say(user, QUESTION)
    assert "Источник:" in reply.text
    assert reply.at - started < BURST_WAIT / 4
    assert fake.of("sendChatAction", chat_id=user, since=mark) == []


async def test_a_flows_yes_is_not_held_back(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """An "affirm" that a form took as its answer is not a fragment: the
    assistant did not keep it, and its reply goes at once."""

    async def form_took_it(event: Event) -> Outcome:
        return Outcome([Reply("Спасибо, заполним заявление.")], "ru", "affirm")

    monkeypatch.setattr(h.assistant, "handle", form_took_it)
    user = new_id()
    started = time.monotonic()
    [reply] = await h.say(user, "да")
    assert reply.at - started < BURST_WAIT / 4


async def test_a_fragment_is_answered_when_the_next_message_is_not_text(h: Harness) -> None:
    user, fake = new_id(), h.fake
    mark = fake.mark()
    first = asyncio.create_task(h.feed(fake.text(user, "здравствуйте")))
    await asyncio.sleep(0.1)
    await asyncio.gather(first, h.feed(fake.sticker(user)))
    assert fake.texts(user, since=mark) == [
        h.assistant.t("ru", "greet"),
        h.assistant.t("ru", "tg-sticker"),
    ]


async def test_a_flood_still_gets_one_notice(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    user, fake = new_id(), h.fake
    outcomes = spy_outcomes(h, monkeypatch)
    await h.assistant.set_language(user, "ru")
    mark = fake.mark()
    flood = [fake.text(user, f"{QUESTION} {i}") for i in range(30)]
    await asyncio.gather(*(h.feed(u) for u in flood))
    texts = fake.texts(user, since=mark)
    assert texts.count(h.assistant.t("ru", "tg-flood")) == 1
    burst = h.shared.flood.burst
    assert burst < 30
    assert len(outcomes) <= burst + 1  # the surplus is not fed to the NLU
    assert len(texts) <= burst + 2


async def test_a_newer_message_at_another_worker_drops_the_fragments_reply(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    if h.shared.latest is None or isinstance(h.shared.latest, MemoryLatest):
        pytest.skip("workers share the latest message in Redis only")
    outcomes = spy_outcomes(h, monkeypatch)
    other = build_dispatcher(h.assistant, h.sessions, h.shared)  # a second worker
    user, fake = new_id(), h.fake
    mark = fake.mark()
    from aiogram.types import Update

    def update(text: str) -> Update:
        return Update.model_validate(fake.text(user, text), context={"bot": h.bot})

    first = asyncio.create_task(h.dp.feed_update(h.bot, update("здравствуйте")))
    await asyncio.sleep(0.3)
    await asyncio.gather(first, other.feed_update(h.bot, update(QUESTION)))
    assert [o.intent for _, o in outcomes][0] == "greet"
    assert fake.texts(user, since=mark) == texts_of(outcomes[1][1])


# -- the latest message per chat, in its two homes -----------------------------------------
async def test_memory_latest_keeps_the_greatest_id_and_forgets_it() -> None:
    now = [0.0]
    latest = MemoryLatest(ttl=60, clock=lambda: now[0])
    chat = new_id()
    assert not await latest.newer(chat, 5)
    await latest.note(chat, 7)
    await latest.note(chat, 6)  # late, and older
    assert await latest.newer(chat, 6)
    assert not await latest.newer(chat, 7)
    assert not await latest.newer(chat + 1, 1)
    now[0] += 61
    assert not await latest.newer(chat, 6)
    assert len(latest) == 1  # purged when the map grows, not before


async def test_memory_latest_wakes_the_waiter_at_once() -> None:
    latest = MemoryLatest()
    chat = new_id()
    await latest.note(chat, 10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiting = asyncio.create_task(latest.newer(chat, 10, wait=5.0))
    await asyncio.sleep(0.05)
    await latest.note(chat, 11)
    assert await waiting
    assert loop.time() - started < 0.5
    started = loop.time()
    assert not await latest.newer(chat, 11, wait=0.2)
    assert loop.time() - started >= 0.19


async def test_redis_latest_is_shared_and_short_lived(redis: Any) -> None:
    prefix = f"test:{new_id()}:"
    one, two = RedisLatest(redis, prefix), RedisLatest(redis, prefix, poll=0.02)
    chat = new_id()
    await one.note(chat, 7)
    await one.note(chat, 6)
    assert await two.newer(chat, 6) and not await two.newer(chat, 7)
    ttl = await redis.pttl(f"{prefix}latest:{chat}")
    assert 0 < ttl <= 60_000
    waiting = asyncio.create_task(two.newer(chat, 7, wait=5.0))
    await asyncio.sleep(0.05)
    await one.note(chat, 8)
    assert await asyncio.wait_for(waiting, 1.0)


async def test_while_redis_is_away_the_latest_message_is_kept_in_memory() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    class Away:
        async def note(self, chat_id: int, message_id: int) -> None:
            raise RedisConnectionError("refused")

        async def newer(self, chat_id: int, message_id: int, wait: float = 0.0) -> bool:
            raise RedisConnectionError("refused")

    outage = Outage("Redis")
    latest = FallbackLatest(Away(), outage)
    chat = new_id()
    await latest.note(chat, 3)
    assert outage.down
    assert await latest.newer(chat, 2) and not await latest.newer(chat, 3)
    waiting = asyncio.create_task(latest.newer(chat, 3, wait=5.0))
    await asyncio.sleep(0.05)
    await latest.note(chat, 4)
    assert await asyncio.wait_for(waiting, 1.0)
