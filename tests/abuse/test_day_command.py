"""/day in a private chat: the day's bookings for members of the staff chat
only, Telegram asked once per person per MEMBERSHIP_TTL and at most
LOOKUPS_PER_MINUTE times a minute in all, however many /day arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from bot.dispatcher import Shared, build_dispatcher
from bot.handlers.booking_staff import LOOKUPS_PER_MINUTE, MEMBERSHIP_TTL, StaffOnly
from bot.ratelimit import FloodPolicy
from bot.telegram import make_bot
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

STAFF_CHAT = -100_555_000_1414


@pytest.fixture
async def telegram(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeTelegram, Bot, Any, set[int]]]:
    monkeypatch.setenv("STAFF_CHAT_ID", str(STAFF_CHAT))
    members: set[int] = set()
    async with FakeTelegram() as fake:

        async def get_chat_member(token: str, params: dict[str, Any]) -> Any:
            who = int(params["user_id"])
            return {"status": "member" if who in members else "left", "user": fake.user(who)}

        monkeypatch.setattr(fake, "_m_getChatMember", get_chat_member)
        bot = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
        shared = Shared(flood=FloodPolicy(burst=1000))
        try:
            yield fake, bot, build_dispatcher(assistant, sessions, shared), members
        finally:
            await bot.session.close()


async def test_day_in_private_asks_telegram_sparingly(
    telegram: tuple[FakeTelegram, Bot, Any, set[int]],
) -> None:
    fake, bot, dp, members = telegram
    member = new_id()
    members.add(member)

    async def day(user: int) -> None:
        await dp.feed_update(
            bot, Update.model_validate(fake.text(user, "/day ast-psc1"), context={"bot": bot})
        )

    # A member: the list (and its CSV), Telegram asked once for both.
    mark = fake.mark()
    for _ in range(2):
        await day(member)
    assert len(fake.of("sendDocument", chat_id=member, since=mark)) == 2
    assert len(fake.of("getChatMember", since=mark)) == 1

    # Someone else, ten times: no list, one question to Telegram.
    outsider = new_id()
    mark = fake.mark()
    for _ in range(10):
        await day(outsider)
    assert fake.of("sendDocument", chat_id=outsider, since=mark) == []
    assert all("ast-psc1" not in c.text for c in fake.of("sendMessage", chat_id=outsider))
    assert len(fake.of("getChatMember", since=mark)) == 1

    # Many accounts at once: Telegram asked no more than the limit allows.
    mark = fake.mark()
    strangers = [new_id() for _ in range(3 * LOOKUPS_PER_MINUTE)]
    for stranger in strangers:
        await day(stranger)
    assert len(fake.of("getChatMember", since=mark)) <= LOOKUPS_PER_MINUTE
    assert not any(fake.of("sendDocument", chat_id=s, since=mark) for s in strangers)
    # The member, known already, is not held up by them.
    mark = fake.mark()
    await day(member)
    assert fake.of("sendDocument", chat_id=member, since=mark)


async def test_membership_answers_expire() -> None:
    """A member removed from the staff chat loses /day within MEMBERSHIP_TTL."""
    now = [0.0]
    answers = {"status": "member"}
    asked: list[int] = []

    class FakeBot:
        async def get_chat_member(self, chat_id: int, user_id: int) -> Any:
            asked.append(user_id)
            return type("Member", (), {"status": answers["status"]})()

    only = StaffOnly(STAFF_CHAT, clock=lambda: now[0])
    bot: Any = FakeBot()
    assert await only.is_member(bot, 7)
    answers["status"] = "left"
    now[0] += MEMBERSHIP_TTL - 1
    assert await only.is_member(bot, 7)  # still trusted
    now[0] += 2
    assert not await only.is_member(bot, 7)
    assert asked == [7, 7]
    # The limit per minute is a sliding one: after a minute, new questions again.
    for n in range(LOOKUPS_PER_MINUTE):
        await only.is_member(bot, 100 + n)
    assert not await only.is_member(bot, 999)
    assert 999 not in asked
    now[0] += 61
    await only.is_member(bot, 999)
    assert 999 in asked
