"""What the bot does to be fast must not change what it answers: the
fast scorer of the light models, the remembered language, the session's
response parsing."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter

from actions.assistant import MemoryUserDirectory
from bot.languages import RememberedLanguages
from bot.sender import RetryPolicy
from bot.telegram import BotSession, make_bot
from nlu.light import LightModels
from nlu.normalize import clean, fold
from nlu.pipeline import NLU, LinearScorer
from nlu.trainingdata import TEST_DIR, TRAIN_DIR, read
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import new_id


def test_fast_scorer_gives_scikit_learns_numbers(light: LightModels) -> None:
    nlu = NLU(client=None, light=light)
    assert isinstance(nlu._lang_scorer, LinearScorer)
    assert isinstance(nlu._intent_scorer, LinearScorer)
    texts = [e.text for e in read([TRAIN_DIR]).examples][::7]
    texts += [e.text for e in read([TEST_DIR]).examples]
    texts += ["", "  ", "123 456", "🙂", "фывфыв ячсмить", "salem, diplom kerek", "ДУБЛИКАТ!!!"]
    for text in texts:
        cleaned = clean(text)
        slow_lang, slow_conf = light.detect_language(cleaned)
        fast_lang, fast_conf = nlu.detect_language(cleaned)
        assert fast_lang == slow_lang, text
        assert fast_conf == pytest.approx(slow_conf, abs=1e-9), text
        folded = fold(cleaned)
        slow = light.rank_intents(folded)
        fast = nlu.rank_intents(folded)
        assert [n for n, _ in fast] == [n for n, _ in slow], text
        assert [c for _, c in fast] == pytest.approx([c for _, c in slow], abs=1e-9), text


def test_an_unknown_pipeline_shape_keeps_scikit_learn() -> None:
    assert LinearScorer.compile(object()) is None


async def test_remembered_language_follows_changes_and_forget() -> None:
    now = [0.0]
    rows = MemoryUserDirectory()
    users = RememberedLanguages(rows, ttl=30, clock=lambda: now[0])
    user = new_id()
    assert await users.get_language(user) is None
    await users.set_language(user, "ru")  # through the cache: seen at once
    assert await users.get_language(user) == "ru"
    await rows.set_language(user, "kk")  # another worker's change
    assert await users.get_language(user) == "ru"
    now[0] += 31
    assert await users.get_language(user) == "kk"  # ... seen after the TTL
    users.forget(user)
    await rows.set_language(user, "ru")
    assert await users.get_language(user) == "ru"


async def test_session_parses_answers_and_errors_as_aiogram_does(fake: FakeTelegram) -> None:
    bot: Bot = make_bot(f"{new_id()}:TEST", fake.url, retry=RetryPolicy(attempts=1))
    assert isinstance(bot.session, BotSession)
    try:
        user = new_id()
        first = await bot.send_message(user, "один")
        second = await bot.send_message(user, "два")
        assert first.text == "один" and second.text == "два"
        assert second.message_id > first.message_id
        assert second.bot is bot  # the context aiogram gives its objects
        with pytest.raises(TelegramBadRequest):
            await bot.send_message(user, " ")
        fake.fail_next("sendMessage", status=429, retry_after=7)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(user, "три")
        assert caught.value.retry_after == 7
    finally:
        await bot.session.close()
