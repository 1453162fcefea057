"""Forged button presses: another citizen's booking code, an application
number in a payload, staff-only and unknown actions, an oversized payload.
Through the assistant (every front end) and through the Telegram dispatcher
(filters and middlewares included): nothing changes in the database and the
citizen is told so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.events import Event, Outcome
from actions.i18n import Translator
from bot.dispatcher import build_dispatcher
from bot.telegram import make_bot
from storage.applications import ApplicantForm, Applications
from storage.booking import ACTIVE, Booking
from tests.abuse.conftest import NOW
from tests.applications.support import make_iin
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

T = Translator()
OWNER_NAME = "Ахметова Айгерим Болатовна"
OWNER_IIN = make_iin(date(1995, 8, 30), female=True)
OWNER_PHONE = "+77012345678"
TABLES = (
    "bookings",
    "booking_reminders",
    "applications",
    "application_events",
    "handoffs",
    "outbox",
)


def text_of(o: Outcome) -> str:
    return "\n".join(r.text for r in o.replies)


def payloads(o: Outcome) -> list[str]:
    return [b.payload for r in o.replies for b in r.flat_buttons()]


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[Any]]:
    async with sessions() as session:
        return {
            t: [tuple(r) for r in await session.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in TABLES
        }


async def owner_with_booking_and_application(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], owner: int
) -> tuple[str, str]:
    """Citizen `owner` books a slot by buttons and has an application; their
    booking code and application number."""
    for payload in ("lang:ru", "ask:book_queue", "bk:s:duplicate", "bk:o:ast-psc1"):
        await assistant.handle(Event(owner, button=payload))
    await assistant.handle(Event(owner, button="bk:d:20261214"))
    confirm = await assistant.handle(Event(owner, button="bk:t:1000"))
    ok = next(p for p in payloads(confirm) if p.startswith("bk:ok:"))
    await assistant.handle(Event(owner, button=ok))
    async with sessions() as session:
        booking = (await session.scalars(select(Booking).where(Booking.user_id == owner))).one()
    form = ApplicantForm(
        university_head_name="Иванов Иван Иванович",
        specialty="Информационные системы",
        university="ЕНУ",
        graduation_year=2012,
        applicant_name=OWNER_NAME,
        iin=OWNER_IIN,
        phone=OWNER_PHONE,
        reason="lost",
        requested="diploma_with_appendix",
    )
    applications = Applications(sessions)
    for _ in range(2):  # the second: the first number is the one the help text shows
        app = await applications.create(
            form, user_id=owner, lang="ru", channel="psc", due_date=NOW.date() + timedelta(days=10)
        )
    return booking.code, app.number


def assert_nothing_personal(outcome: Outcome, *secrets: str) -> None:
    shown = text_of(outcome) + " ".join(payloads(outcome))
    for secret in (OWNER_NAME, OWNER_IIN, OWNER_PHONE, *secrets):
        assert secret not in shown


# -- through the assistant -------------------------------------------------------------
async def test_another_citizens_booking_code_changes_nothing(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner, intruder = new_id(), new_id()
    code, _ = await owner_with_booking_and_application(assistant, sessions, owner)
    await assistant.handle(Event(intruder, button="lang:ru"))
    before = await snapshot(sessions)

    cancel = await assistant.handle(Event(intruder, button=f"bk:cy:{code}"))
    assert T("ru", "bk-cancel-missing", code=code) in text_of(cancel)
    ask = await assistant.handle(Event(intruder, button=f"bk:cn:{code}"))
    assert T("ru", "bk-cancel-missing", code=code) in text_of(ask)
    assert f"bk:cy:{code}" not in payloads(ask)  # no "yes, cancel" for someone else's booking
    moved = await assistant.handle(Event(intruder, button=f"bk:rs:{code}"))
    assert T("ru", "bk-resched-missing", code=code) in text_of(moved)
    confirm = await assistant.handle(Event(intruder, button="bk:ok:0123456789abcdef"))
    assert T("ru", "bk-expired-confirm") in text_of(confirm)
    for outcome in (cancel, ask, moved, confirm):
        assert_nothing_personal(outcome)

    assert await snapshot(sessions) == before
    async with sessions() as session:
        booking = (await session.scalars(select(Booking).where(Booking.code == code))).one()
    assert booking.status == ACTIVE and booking.user_id == owner


async def test_an_application_number_in_a_payload_reveals_nothing(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner, intruder = new_id(), new_id()
    _, number = await owner_with_booking_and_application(assistant, sessions, owner)
    await assistant.handle(Event(intruder, button="lang:ru"))
    before = await snapshot(sessions)

    mine = await assistant.handle(Event(intruder, button=f"app:status:{number}"))
    assert number not in text_of(mine)  # only the intruder's own applications (none)
    for forged in (f"app:lookup:{number}", f"app:edit:{number}", "app:confirm", "app:consent:yes"):
        outcome = await assistant.handle(Event(intruder, button=forged))
        assert_nothing_personal(outcome, number)
        assert outcome.replies and all(r.text.strip() for r in outcome.replies)
    closed = await assistant.handle(Event(intruder, button="app:confirm"))
    assert T("ru", "intake-form-closed") in text_of(closed)
    # The number alone (typed) is not enough: the applicant's IIN is asked, a wrong one refused.
    await assistant.handle(Event(intruder, button="app:lookup"))
    asked = await assistant.handle(Event(intruder, text=number))
    assert T("ru", "intake-lookup-ask-iin") in text_of(asked)
    refused = await assistant.handle(Event(intruder, text=make_iin(date(1990, 1, 1))))
    assert T("ru", "intake-lookup-not-found") in text_of(refused)
    assert_nothing_personal(refused, "ЕНУ")
    assert await snapshot(sessions) == before


UNKNOWN = [
    "zz:drop_all",
    "ho:end",  # the staff chat's "end the hand-off" button
    "hs:1:ask_documents:duplicate",  # a staff suggestion
    "lang:en",
    "svc:../../etc/passwd",
    "ask:'; DROP TABLE bookings; --",
    "\x00\u202e",
    "",
]


@pytest.mark.parametrize("payload", [*UNKNOWN, "bk:cy:" + "A" * 5000, "app:pick:" + "x:" * 3000])
async def test_unknown_and_oversized_payloads_change_nothing(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], payload: str
) -> None:
    owner, intruder = new_id(), new_id()
    await owner_with_booking_and_application(assistant, sessions, owner)
    await assistant.handle(Event(intruder, button="lang:ru"))
    before = await snapshot(sessions)
    outcome = await assistant.handle(Event(intruder, button=payload))
    assert outcome.replies and all(r.text.strip() for r in outcome.replies)
    # What is shown fits one Telegram message and never echoes a long payload back.
    assert all(len(r.text) <= 4096 for r in outcome.replies)
    assert "A" * 100 not in text_of(outcome) and "x:" * 50 not in text_of(outcome)
    assert_nothing_personal(outcome)
    assert await snapshot(sessions) == before


async def test_an_unknown_payload_is_called_so(assistant: Assistant) -> None:
    outcome = await assistant.handle(Event(new_id(), button="zz:drop_all"))
    assert len(outcome.replies) >= 2 or T(outcome.lang, "menu-title") not in text_of(outcome)


# -- through the dispatcher (Telegram) ------------------------------------------------------
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


@pytest.mark.parametrize("forged", ["cancel", "reschedule", "staff", "oversized", "unknown"])
async def test_forged_presses_through_the_dispatcher(
    telegram: tuple[FakeTelegram, Bot, Any],
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    forged: str,
) -> None:
    fake, bot, dp = telegram
    owner, intruder = new_id(), new_id()
    code, number = await owner_with_booking_and_application(assistant, sessions, owner)

    async def feed(update: dict[str, Any]) -> None:
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))

    await feed(fake.text(intruder, "/start", lang="ru"))
    await feed(fake.press(intruder, "lang:ru"))
    message = fake.last_message(intruder)
    assert message is not None
    data = {
        "cancel": f"bk:cy:{code}",
        "reschedule": f"bk:rs:{code}",
        "staff": "ho:end",
        "oversized": f"bk:cy:{code}" + "Z" * 4000,
        "unknown": f"app:status:{number}",
    }[forged]
    before = await snapshot(sessions)
    mark = fake.mark()
    await feed(fake.press(intruder, data, message))

    assert fake.of("answerCallbackQuery", since=mark)  # the button stops spinning
    sent = fake.of("sendMessage", chat_id=intruder, since=mark)
    assert sent and all(len(c.text) <= 4096 for c in sent)
    shown = "\n".join(c.text for c in sent)
    if forged == "cancel":
        assert T("ru", "bk-cancel-missing", code=code) in shown
    if forged == "reschedule":
        assert T("ru", "bk-resched-missing", code=code) in shown
    for secret in (OWNER_NAME, OWNER_IIN, OWNER_PHONE, number, "Z" * 100):
        assert secret not in shown
    assert not fake.of("sendMessage", chat_id=owner, since=mark)  # the owner is not bothered
    assert await snapshot(sessions) == before
