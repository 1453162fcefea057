"""The Telegram side, fed as real updates through the dispatcher to a fake
Bot API server: a citizen books with the inline keyboards; /day in the
staff chat gives a text list and a CSV document, to staff only; the bot
process runs the reminder loop."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking import BookingFlow, BookingRules, Offices
from actions.i18n import Translator
from actions.state import MemoryStateStore
from bot.app import build_app
from bot.dispatcher import Shared, build_dispatcher
from bot.handlers.booking_staff import DayList
from bot.ratelimit import FloodPolicy
from bot.settings import Settings
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.booking import ACTIVE, Booking, BookingStore
from storage.users import SqlUserDirectory
from tests.booking.conftest import ALMATY, WEDNESDAY_11, Clock
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, NO_RASA_URL, make_assistant, new_id

DAY = date(2026, 12, 14)
BOOKED_AT = datetime(2026, 12, 9, 11, 0, tzinfo=ALMATY)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
    yield client
    await client.session.close()


class Staff:
    def __init__(self, fake: FakeTelegram, bot: Bot, dp: Dispatcher, member: int) -> None:
        self.fake, self.bot, self.dp, self.member = fake, bot, dp, member
        self.chat = -100_000_000_000 - member  # the fake's group id for this member
        self.codes: dict[str, list[str]] = {}  # office -> codes booked on DAY, by time

    async def feed(self, update: dict[str, object]) -> None:
        await self.dp.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )

    async def in_chat(self, text: str) -> int:
        mark = self.fake.mark()
        await self.feed(self.fake.text(self.member, text, chat_type="supergroup"))
        return mark


@pytest.fixture
async def staff(
    fake: FakeTelegram,
    bot: Bot,
    sqlite_db: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    monkeypatch: pytest.MonkeyPatch,
) -> Staff:
    member = new_id()
    monkeypatch.setenv("STAFF_CHAT_ID", str(-100_000_000_000 - member))
    dp = build_dispatcher(make_assistant(light, kb, calendar, sqlite_db), sqlite_db)
    store = BookingStore(sqlite_db)
    for i, (office, hour) in enumerate([("ast-psc1", 10), ("ast-psc1", 9), ("alm-psc1", 12)]):
        await store.book(
            user_id=5_000_000 + i,
            service="duplicate",
            office_id=office,
            windows=3,
            starts_at=datetime(2026, 12, 14, hour, 0, tzinfo=ALMATY),
            lang="ru",
            key=f"staff-test:{i}",
            now=BOOKED_AT,
        )
    await store.book(  # another day: not listed
        user_id=5_000_010,
        service="duplicate",
        office_id="ast-psc1",
        windows=3,
        starts_at=datetime(2026, 12, 15, 9, 0, tzinfo=ALMATY),
        lang="ru",
        key="staff-test:other-day",
        now=BOOKED_AT,
    )
    staff = Staff(fake, bot, dp, member)
    staff.codes = await codes_on(store)
    return staff


async def codes_on(store: BookingStore) -> dict[str, list[str]]:
    start = datetime(2026, 12, 14, tzinfo=ALMATY)
    rows = await store.day_list(["ast-psc1", "alm-psc1"], start, start + timedelta(days=1))
    out: dict[str, list[str]] = {}
    for b in rows:
        out.setdefault(b.office_id, []).append(b.code)
    return out


async def test_day_list_of_one_office(staff: Staff) -> None:
    mark = await staff.in_chat("/day ast-psc1 14.12.2026")
    [listing] = staff.fake.of("sendMessage", chat_id=staff.chat, since=mark)
    text = listing.text
    first, second = staff.codes["ast-psc1"]
    assert "14.12.2026" in text and "ЦОН №1 (үлгі / образец)" in text
    assert text.index("09:00") < text.index("10:00")
    assert f"09:00 · окно 1 · {first}" in text and second in text
    assert staff.codes["alm-psc1"][0] not in text
    assert "Всего записей: 2." in text
    [document] = staff.fake.of("sendDocument", chat_id=staff.chat, since=mark)
    assert document.params["document"]["filename"] == "bookings-2026-12-14.csv"
    assert document.params["document"]["size"] > 50


async def test_day_list_of_every_office_and_a_bad_office(staff: Staff) -> None:
    mark = await staff.in_chat("/day 2026-12-14")
    [listing] = staff.fake.of("sendMessage", chat_id=staff.chat, since=mark)
    for codes in staff.codes.values():
        assert all(code in listing.text for code in codes)
    assert "Всего записей: 3." in listing.text
    mark = await staff.in_chat("/day nowhere")
    [answer] = staff.fake.of("sendMessage", chat_id=staff.chat, since=mark)
    assert "Нет офиса «nowhere»" in answer.text and "ast-psc1" in answer.text
    assert staff.fake.of("sendDocument", chat_id=staff.chat, since=mark) == []


async def test_only_members_get_it_in_private(staff: Staff) -> None:
    outsider = new_id()
    staff.fake.fail_next("getChatMember", 1, status=400, description="Bad Request: user not found")
    mark = staff.fake.mark()
    await staff.feed(staff.fake.text(outsider, "/day ast-psc1 14.12.2026"))
    replies = staff.fake.of("sendMessage", chat_id=outsider, since=mark)
    assert replies and all("ast-psc1" not in r.text for r in replies)  # the usual answer
    assert staff.fake.of("sendDocument", chat_id=outsider, since=mark) == []

    mark = staff.fake.mark()  # the fake says every other user is a member
    await staff.feed(staff.fake.text(staff.member, "/day ast-psc1 14.12.2026"))
    [listing] = staff.fake.of("sendMessage", chat_id=staff.member, since=mark)
    assert "Всего записей: 2." in listing.text
    assert staff.fake.of("sendDocument", chat_id=staff.member, since=mark)


def test_the_csv_holds_codes_not_people(calendar: Calendar) -> None:
    desk = DayList(
        BookingStore(async_sessionmaker()), Offices.load(), BookingRules.load(), calendar
    )
    row = Booking(
        code="K3VKPH",
        user_id=123456789,
        service="duplicate",
        office_id="ast-psc1",
        starts_at=datetime(2026, 12, 14, 10, 0, tzinfo=ALMATY),
        window_no=2,
    )
    data = desk.csv(DAY, [row]).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(data)))
    assert lines[0] == ["date", "time", "office_id", "office", "window", "code", "service"]
    assert lines[1] == ["2026-12-14", "10:00", "ast-psc1", "ЦОН №1", "2", "K3VKPH", "duplicate"]
    assert "123456789" not in data
    office = Offices.load().get("ast-psc1")
    assert office is not None
    text = desk.text(Translator(), [office], DAY, [row])
    assert "10:00 · окно 2 · K3VKPH · дубликат диплома" in text


# -- a citizen on Telegram -------------------------------------------------------------
async def test_a_citizen_books_with_the_keyboards(
    fake: FakeTelegram,
    bot: Bot,
    sqlite_db: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    store = BookingStore(sqlite_db)
    assistant = Assistant(
        NLU(client=None, light=light),
        kb,
        calendar,
        states=MemoryStateStore(),
        users=SqlUserDirectory(sqlite_db),
        clock=Clock(WEDNESDAY_11),
        flows=[BookingFlow(store)],
    )
    # A patient flood guard: this citizen taps faster than a person does.
    dp = build_dispatcher(assistant, sqlite_db, Shared(flood=FloodPolicy(burst=50)))
    user = new_id()

    async def feed(update: dict[str, object]) -> list[str]:
        mark = fake.mark()
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
        return [p for c in fake.of("sendMessage", chat_id=user, since=mark) for p in c.payloads]

    assert "bk:s:duplicate" in await feed(fake.text(user, "/book"))
    assert "bk:c:alm" in await feed(fake.press(user, "bk:s:duplicate"))
    assert "bk:o:alm-psc1" in await feed(fake.press(user, "bk:c:alm"))
    assert "bk:d:20261214" in await feed(fake.press(user, "bk:o:alm-psc1"))
    times = await feed(fake.press(user, "bk:d:20261214"))
    assert "bk:t:0900" in times and "bk:pt:afternoon" in times  # every payload fits Telegram
    confirm = await feed(fake.press(user, "bk:t:0900"))
    ok = next(p for p in confirm if p.startswith("bk:ok:"))
    mark = fake.mark()
    await feed(fake.press(user, ok))
    [ticket] = fake.of("sendMessage", chat_id=user, since=mark)
    [booking] = await store.upcoming(user, WEDNESDAY_11)
    assert booking.status == ACTIVE and booking.code in ticket.text
    assert "Талон:" in ticket.text and ticket.payloads == ["bk:my", "menu"]


async def test_the_bot_process_runs_the_reminder_loop(tmp_path: Path) -> None:
    settings = Settings(
        bot_token=SecretStr("1:TEST"),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        nlu_url=NO_RASA_URL,
    )
    async with build_app(settings, start_nlu=False) as app:
        assert "bk" in app.assistant.flows
        assert "booking-reminders" in {t.get_name() for t in asyncio.all_tasks()}
    assert "booking-reminders" not in {t.get_name() for t in asyncio.all_tasks()}
