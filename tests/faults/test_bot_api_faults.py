"""The Bot API misbehaving under the bot: 5xx answers, timeouts, 429.

`RetryRequests` (bot/sender.py, a session middleware on every call but the
long poll) retries 5xx and network errors (a timeout is one) with
exponential backoff (0.5 s doubled, jitter +-25 %, 5 tries in all) and waits
a 429's `retry_after`. Measured here from the fake server's call log: the
time between the attempts as they arrived.

The 5xx and 429 cases run the real bot process (its default retry policy).
The bot's request timeout is a constant (bot/telegram.py REQUEST_TIMEOUT,
30 s, no setting), so the timeout cases use the dispatcher in this process
with the same middleware and a 1 s timeout instead, as do the "every retry
fails" cases (a short policy: 4 tries, 0.05 s backoff).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.i18n import Translator
from bot.dispatcher import Shared, build_dispatcher
from bot.handlers.privacy import privacy_text
from bot.sender import RetryPolicy
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.telegram.tg_support import (
    FAST_RETRY,
    BotProcess,
    bot_env,
    free_port,
    make_assistant,
    new_id,
    start_bot,
)

pytestmark = pytest.mark.slow

T = Translator()
DEFAULT = RetryPolicy()  # what the bot process uses


def attempts(fake: FakeTelegram, user: int, since: int) -> list[Call]:
    return fake.of("sendMessage", chat_id=user, since=since, ok_only=False)


def gaps(calls: list[Call]) -> list[float]:
    """Seconds from each attempt's answer to the next attempt's arrival."""
    return [b.arrived - a.at for a, b in zip(calls, calls[1:], strict=False)]


# -- the real bot process: 5xx and 429 ---------------------------------------------------------
@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot_process(
    fake: FakeTelegram, light: LightModels, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotProcess]:
    directory = tmp_path_factory.mktemp("api-faults")
    env = bot_env(
        fake,
        f"{new_id()}:AAH{secrets.token_urlsafe(24)}",
        f"sqlite+aiosqlite:///{directory / 'bot.db'}",
        REDIS_URL=None,
        CONSOLE_PORT=str(free_port()),
    )
    proc = await start_bot(fake, env, directory / "bot.log")
    yield proc
    assert await proc.stop() == 0, proc.log()[-3000:]


async def test_5xx_answers_are_retried_with_backoff(
    fake: FakeTelegram, bot_process: BotProcess
) -> None:
    user = new_id()
    fake.fail_next("sendMessage", 2, status=500)
    fake.fail_next("sendMessage", 1, status=502)
    mark = fake.mark()
    fake.push(fake.text(user, "/privacy"))
    await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=20)
    await fake.quiet(0.5)
    tried = attempts(fake, user, mark)
    assert [c.status for c in tried] == [500, 500, 502, 200]
    assert [c.text for c in tried if c.ok] == [privacy_text(T, "ru")]  # once
    waits = gaps(tried)
    for n, waited in enumerate(waits):
        backoff = DEFAULT.backoff * 2**n  # 0.5, 1, 2 s
        assert 0.75 * backoff - 0.02 <= waited <= 1.25 * backoff + 0.3, (n, waited)


async def test_429_waits_retry_after(fake: FakeTelegram, bot_process: BotProcess) -> None:
    user = new_id()
    fake.fail_next("sendMessage", 2, status=429, retry_after=1)
    mark = fake.mark()
    fake.push(fake.text(user, "/privacy"))
    await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=20)
    await fake.quiet(0.5)
    tried = attempts(fake, user, mark)
    assert [c.status for c in tried] == [429, 429, 200]
    assert [c.text for c in tried if c.ok] == [privacy_text(T, "ru")]
    waits = gaps(tried)
    assert all(1.0 - 0.02 <= w <= 1.5 for w in waits), waits


# -- the dispatcher in this process: timeouts, and every retry failing -----------------------------
async def _dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Dispatcher:
    assistant = make_assistant(light, kb, calendar, sessions)
    return build_dispatcher(assistant, sessions, Shared())


@pytest.fixture
async def local(
    fake: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> AsyncIterator[tuple[Bot, Dispatcher]]:
    bot = make_bot(f"{new_id()}:LOCAL", fake.url, retry=FAST_RETRY)
    bot.session.timeout = 1.0  # instead of 30 s
    try:
        yield bot, await _dispatcher(sessions, light, kb, calendar)
    finally:
        await bot.session.close()


async def feed(bot: Bot, dp: Dispatcher, update: dict[str, Any]) -> None:
    await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))


async def test_a_timeout_telegram_never_processed_is_retried_once(
    fake: FakeTelegram, local: tuple[Bot, Dispatcher]
) -> None:
    """The first send times out (held past the 1 s timeout, then dropped:
    Telegram never had it); the retry delivers: one reply."""
    bot, dp = local
    user = new_id()
    hold = fake.hold_next("sendMessage", chat_id=user)
    mark = fake.mark()
    task = asyncio.create_task(feed(bot, dp, fake.text(user, "/privacy")))
    await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=10)
    hold.release(deliver=False)
    await task
    tried = attempts(fake, user, mark)
    assert [c.status for c in tried] == [502, 200]  # 502: the dropped one, answered to nobody
    assert [c.text for c in tried if c.ok] == [privacy_text(T, "ru")]
    waited = tried[1].arrived - tried[0].arrived
    assert 1.0 <= waited <= 1.0 + FAST_RETRY.max_backoff * 1.25 + 0.3, waited


async def test_a_timeout_telegram_did_process_sends_the_reply_twice(
    fake: FakeTelegram, local: tuple[Bot, Dispatcher]
) -> None:
    """The first send is slow (2 s) but Telegram carries it out after the
    bot gave up at 1 s: the retry sends it again. The Bot API has no
    idempotency key, so a timed-out send is at least once: the citizen sees
    the reply twice. (Not retrying it would lose the reply whenever the
    timeout was a real loss.)"""
    bot, dp = local
    user = new_id()
    fake.delay_next("sendMessage", 2.0)
    mark = fake.mark()
    await feed(bot, dp, fake.text(user, "/privacy"))
    await fake.wait_for("sendMessage", chat_id=user, since=mark, count=2, timeout=10)
    tried = attempts(fake, user, mark)
    assert [c.text for c in tried if c.ok] == [privacy_text(T, "ru")] * 2


async def test_when_every_retry_fails_the_citizen_gets_an_apology(
    fake: FakeTelegram, local: tuple[Bot, Dispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    """All tries of the reply fail: the update is not handled again (it was
    confirmed and claimed), the failure is logged at ERROR with its update
    id, and the citizen gets the apology with "operator" / "menu" buttons
    (its own retries still to spend)."""
    bot, dp = local
    user = new_id()
    fake.fail_next("sendMessage", FAST_RETRY.attempts, status=500)
    mark = fake.mark()
    update = fake.text(user, "/privacy")
    with caplog.at_level(logging.WARNING):
        await feed(bot, dp, update)
    tried = attempts(fake, user, mark)
    assert [c.status for c in tried] == [500] * FAST_RETRY.attempts + [200]
    [apology] = [c for c in tried if c.ok]
    assert apology.text == T("ru", "tg-error") and apology.payloads == ["op", "menu"]
    assert f"update {update['update_id']} failed" in caplog.text


async def test_when_the_apology_fails_too_it_is_logged(
    fake: FakeTelegram, local: tuple[Bot, Dispatcher], caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram down for the reply and the apology: the citizen gets nothing,
    the log says so (twice: the failed update, the undelivered apology);
    nothing retries the update later."""
    bot, dp = local
    user = new_id()
    fake.fail_next("sendMessage", 2 * FAST_RETRY.attempts, status=502)
    mark = fake.mark()
    update = fake.text(user, "/privacy")
    with caplog.at_level(logging.WARNING):
        await feed(bot, dp, update)
    await fake.quiet(0.3)
    tried = attempts(fake, user, mark)
    assert [c.status for c in tried] == [502] * (2 * FAST_RETRY.attempts)
    assert f"update {update['update_id']} failed" in caplog.text
    assert f"apology for update {update['update_id']} not delivered" in caplog.text
