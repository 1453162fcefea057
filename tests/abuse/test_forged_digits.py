"""Forged buttons and answers with digits that are not ASCII ones: "²"
passes str.isdigit() and int() refuses it. Each is a stale button (or a
wrong answer), never an error; through the assistant and the dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.events import Event
from actions.i18n import Translator
from bot.dispatcher import build_dispatcher
from bot.telegram import make_bot
from tests.abuse.test_forged_callbacks import payloads, snapshot, text_of
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

T = Translator()
FORGED_PAGES = ["²", "٣", "¹²", "½", "9" * 40, "-1", "", "1e3", "0x1"]


async def at_the_time_step(assistant: Assistant, user: int) -> None:
    for payload in ("lang:ru", "ask:book_queue", "bk:s:duplicate", "bk:o:ast-psc1"):
        await assistant.handle(Event(user, button=payload))
    shown = await assistant.handle(Event(user, button="bk:d:20261214"))
    assert any(p.startswith("bk:t:") for p in payloads(shown))


@pytest.mark.parametrize("page", FORGED_PAGES)
async def test_a_forged_time_page_is_a_stale_button(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], page: str
) -> None:
    user = new_id()
    await at_the_time_step(assistant, user)
    before = await snapshot(sessions)
    outcome = await assistant.handle(Event(user, button=f"bk:tp:{page}"))
    # The times are shown again, as for any stale button of this step.
    assert any(p.startswith("bk:t:") for p in payloads(outcome))
    assert T("ru", "tg-error") not in text_of(outcome)
    assert await snapshot(sessions) == before
    # Without a booking under way: the usual "that button is old" answer.
    stranger = new_id()
    await assistant.handle(Event(stranger, button="lang:ru"))
    stale = await assistant.handle(Event(stranger, button=f"bk:tp:{page}"))
    assert T("ru", "bk-stale") in text_of(stale)


async def test_a_superscript_number_for_a_choice_is_no_choice(assistant: Assistant) -> None:
    """The application form's choice questions take "1", "2" ... typed: "²" is not one."""
    user = new_id()
    await assistant.handle(Event(user, button="lang:ru"))
    await assistant.handle(Event(user, text="хочу подать заявление на дубликат диплома"))
    await assistant.handle(Event(user, button="app:consent:yes"))
    for answer in (
        "Ахметов Болат Серикович",
        "Информационные системы",
        "Евразийский национальный университет",
        "2012",
        "Ахметова Айгерим Болатовна",
        "900101300017",
        "+77012345678",
    ):
        await assistant.handle(Event(user, text=answer))
    asked = await assistant.handle(Event(user, button="app:skip"))
    assert "app:pick:reason:lost" in payloads(asked)
    for typed in ("²", "٢", "¹"):
        outcome = await assistant.handle(Event(user, text=typed))
        assert T("ru", "intake-err-pick") in text_of(outcome)
    picked = await assistant.handle(Event(user, text="1"))  # an ASCII digit still picks
    assert "app:pick:reason:lost" not in payloads(picked)


@pytest.fixture
async def telegram(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[FakeTelegram, Bot, Any]]:
    async with FakeTelegram() as fake:
        bot = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
        try:
            yield fake, bot, build_dispatcher(assistant, sessions)
        finally:
            await bot.session.close()


async def test_a_forged_time_page_through_the_dispatcher(
    telegram: tuple[FakeTelegram, Bot, Any], assistant: Assistant
) -> None:
    fake, bot, dp = telegram
    user = new_id()
    await at_the_time_step(assistant, user)

    async def feed(update: dict[str, Any]) -> None:
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))

    # The times keyboard (the booking is under way: at_the_time_step).
    message = {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "…"}
    mark = fake.mark()
    await feed(fake.press(user, "bk:tp:²", message))
    assert fake.of("answerCallbackQuery", since=mark)
    sent = fake.of("sendMessage", chat_id=user, since=mark)
    assert sent and T("ru", "tg-error") not in [c.text for c in sent]
    assert any(p.startswith("bk:t:") for c in sent for p in c.payloads)
