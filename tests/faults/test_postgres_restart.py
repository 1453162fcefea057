"""PostgreSQL restarted under the bot, as a crash would (`pg_ctl stop -m
immediate` on a private cluster, tests/faults/pg_server.py), while citizens
book a slot and send an application over Telegram (the real dispatcher, the
fake Bot API server).

What a citizen must notice: a clear "try again" in their language (not
silence, not the generic apology), nothing half written (no booking, no
window taken, no application, hand-off, history or staff notice), their
answers kept, and the same button working once the database is back, with
exactly one booking or application made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking import BookingFlow
from actions.booking.config import BookingRules
from actions.handoff import HandoffFlow
from actions.i18n import Translator
from actions.intake import ApplicationFlow
from bot.dispatcher import Shared, build_dispatcher
from bot.languages import RememberedLanguages
from bot.ratelimit import FloodPolicy
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.booking import BookingStore
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.users import SqlUserDirectory
from tests.abuse.conftest import NOW, Clock
from tests.applications.support import make_iin
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.faults.pg_server import PgServer, pg_server
from tests.telegram.tg_support import FAST_RETRY, new_id

__all__ = ["pg_server"]  # the module-scoped private cluster

pytestmark = pytest.mark.slow
T = Translator()
STAFF_CHAT = -1001414000777


@pytest.fixture
def pg(pg_server: PgServer) -> Iterator[PgServer]:
    """The private cluster, up at the start and at the end of each test."""
    if not pg_server.running():
        pg_server.start()
    yield pg_server
    if not pg_server.running():
        pg_server.start()


@pytest.fixture
async def engine(pg: PgServer) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(pg.url)  # the bot's own engine options
    await create_schema(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(f"{new_id()}:PGFAULT", fake.url, retry=FAST_RETRY)
    yield client
    await client.session.close()


class Citizen:
    """One citizen in a private chat: types, presses buttons the bot showed."""

    def __init__(self, fake: FakeTelegram, bot: Bot, dp: Any, lang: str) -> None:
        self.fake, self.bot, self.dp, self.lang = fake, bot, dp, lang
        self.id = new_id()
        self.seen: list[Call] = []

    async def _feed(self, update: dict[str, Any]) -> list[Call]:
        mark = self.fake.mark()
        await self.dp.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )
        answers = self.fake.of("sendMessage", chat_id=self.id, since=mark)
        self.seen.extend(answers)
        return answers

    async def say(self, words: str) -> list[Call]:
        return await self._feed(self.fake.text(self.id, words, lang=self.lang))

    async def press(self, data: str) -> list[Call]:
        # Only a button the bot showed (on its latest message that has it).
        return await self._feed(self.fake.press(self.id, data, lang=self.lang))

    def offered(self, prefix: str = "") -> list[str]:
        last = self.seen[-1] if self.seen else None
        return [p for p in (last.payloads if last else []) if p.startswith(prefix)]

    async def press_one(self, prefix: str, *, last: bool = False) -> str:
        choices = self.offered(prefix)
        assert choices, f"no {prefix!r} button in: {self.seen[-1].text[:300]!r}"
        choice = choices[-1] if last else choices[0]
        await self.press(choice)
        return choice


def said(calls: list[Call]) -> str:
    return "\n".join(c.text for c in calls)


def make_dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    *,
    language_ttl: float,
) -> tuple[Any, Assistant]:
    """Composed as bot/app.py does (language cache, flows), on a fixed
    clock: a Wednesday morning when every office is open."""
    nlu = NLU(client=None, light=light)
    assistant = Assistant(
        nlu,
        kb,
        calendar,
        users=RememberedLanguages(SqlUserDirectory(sessions), ttl=language_ttl),
        clock=Clock(NOW),
        flows=[
            HandoffFlow(Handoffs(sessions), nlu),
            BookingFlow(BookingStore(sessions), nlu=nlu),
            ApplicationFlow(Applications(sessions, staff_chat_id=STAFF_CHAT), nlu),
        ],
    )
    # The test types faster than any person: no flood guard in the way.
    return build_dispatcher(assistant, sessions, Shared(flood=FloodPolicy(burst=1000))), assistant


async def count(sessions: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(text(sql), params)).scalar_one())


async def bookings_of(sessions: async_sessionmaker[AsyncSession], user: int) -> list[Any]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT id, code, office_id, starts_at, window_no, status FROM bookings"
                " WHERE user_id = :u"
            ),
            {"u": user},
        )
        return list(rows.all())


def reminders_due(starts_at: datetime) -> int:
    """How many reminders a booking made at NOW for `starts_at` gets."""
    return sum(1 for o in BookingRules.load().reminders if starts_at - o > NOW)


async def reminders_of(sessions: async_sessionmaker[AsyncSession], user: int) -> int:
    return await count(
        sessions,
        "SELECT count(*) FROM booking_reminders r JOIN bookings b ON b.id = r.booking_id"
        " WHERE b.user_id = :u",
        u=user,
    )


async def application_rows(sessions: async_sessionmaker[AsyncSession], user: int) -> dict[str, int]:
    """Everything an application writes: itself, its history, its hand-off
    record, the staff notice in the outbox, and the number counter."""
    apps = "SELECT id FROM applications WHERE user_id = :u"
    return {
        "applications": await count(sessions, f"SELECT count(*) FROM ({apps}) a", u=user),  # noqa: S608
        "events": await count(
            sessions,
            f"SELECT count(*) FROM application_events WHERE application_id IN ({apps})",  # noqa: S608
            u=user,
        ),
        "handoffs": await count(
            sessions,
            f"SELECT count(*) FROM application_handoffs WHERE application_id IN ({apps})",  # noqa: S608
            u=user,
        ),
        "staff_notices": await count(
            sessions, "SELECT count(*) FROM outbox WHERE chat_id = :c", c=STAFF_CHAT
        ),
        "numbers_issued": await count(
            sessions, "SELECT coalesce(sum(last), 0) FROM application_counters"
        ),
    }


def crash_after(engine: AsyncEngine, pg: PgServer, statement: str) -> dict[str, int]:
    """Kill PostgreSQL (immediate stop) right after the first statement that
    starts with `statement` ran, inside its still open transaction."""
    fired = {"count": 0}

    def listener(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if fired["count"] == 0 and sql.lstrip().upper().startswith(statement.upper()):
            fired["count"] += 1
            pg.crash()

    event.listen(engine.sync_engine, "after_cursor_execute", listener)
    return fired


# -- booking ------------------------------------------------------------------------------
async def walk_to_confirm(citizen: Citizen) -> tuple[str, str, str]:
    """/start, language, "book", duplicate, Astana PSC, the last day and the
    first time offered (a day ahead: its reminders are all still to come);
    returns (day payload, time payload, confirm payload)."""
    await citizen.say("/start")
    await citizen.press(f"lang:{citizen.lang}")
    await citizen.press("ask:book_queue")
    if citizen.offered("bk:s:"):
        await citizen.press("bk:s:duplicate")
    if citizen.offered("bk:c:"):
        await citizen.press("bk:c:ast")
    await citizen.press("bk:o:ast-psc1")
    day = await citizen.press_one("bk:d:", last=True)
    at = await citizen.press_one("bk:t:")
    [confirm] = citizen.offered("bk:ok:")
    return day, at, confirm


@pytest.mark.parametrize(
    ("lang", "language_ttl", "expected"),
    [
        # The language was read a moment ago: the booking flow itself meets the outage.
        ("ru", 30.0, "bk-db-down"),
        # The citizen thought it over: the first database read of the update fails
        # (the language), and the error handler answers.
        ("kk", 0.0, "tg-db-down-press"),
    ],
)
async def test_booking_confirmed_while_postgres_is_down(
    pg: PgServer,
    sessions: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    bot: Bot,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    lang: str,
    language_ttl: float,
    expected: str,
) -> None:
    dp, _ = make_dispatcher(sessions, light, kb, calendar, language_ttl=language_ttl)
    citizen = Citizen(fake, bot, dp, lang)
    day, at, confirm = await walk_to_confirm(citizen)
    # A day and a time the bot offered (not hard-coded), ahead of the clock.
    assert datetime.strptime(day[5:] + at[5:], "%Y%m%d%H%M").replace(tzinfo=NOW.tzinfo) > NOW

    async def holders() -> int:  # active bookings of the slot (other tests' too)
        return await count(
            sessions,
            "SELECT count(*) FROM bookings WHERE office_id = 'ast-psc1' AND status = 'active'"
            " AND to_char(starts_at AT TIME ZONE 'Asia/Almaty', 'YYYYMMDDHH24MI') = :slot",
            slot=day[5:] + at[5:],
        )

    held = await holders()
    pg.crash()
    down = await citizen.press(confirm)

    # A clear "try again" in the citizen's language, with a button that does it.
    assert len(down) == 1, said(down)
    assert down[0].text == T(lang, expected)
    assert T(lang, "tg-error") not in said(down)
    assert confirm in down[0].payloads

    pg.start()
    assert await bookings_of(sessions, citizen.id) == []  # nothing half done
    assert await reminders_of(sessions, citizen.id) == 0
    assert await holders() == held  # no window of the slot taken

    # The database is back: the same button books, once.
    ticket = await citizen.press(confirm)
    [booking] = await bookings_of(sessions, citizen.id)
    assert booking.code in said(ticket) and booking.status == "active"
    assert await holders() == held + 1 and booking.window_no == held + 1
    assert f"{booking.starts_at.astimezone(calendar.tz):%Y%m%d%H%M}" == day[5:] + at[5:]
    assert await reminders_of(sessions, citizen.id) == reminders_due(booking.starts_at) > 0


async def test_restart_while_idle_is_invisible(
    pg: PgServer,
    sessions: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    bot: Bot,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    """PostgreSQL restarted while nobody wrote: the pool's connections are
    dead, and the first confirmation after the restart still books at once
    (the engine checks a pooled connection before using it)."""
    dp, _ = make_dispatcher(sessions, light, kb, calendar, language_ttl=30.0)
    citizen = Citizen(fake, bot, dp, "ru")
    _, _, confirm = await walk_to_confirm(citizen)
    pg.crash()
    pg.start()
    ticket = await citizen.press(confirm)
    [booking] = await bookings_of(sessions, citizen.id)
    assert booking.code in said(ticket)
    assert T("ru", "bk-db-down") not in said(ticket)


async def test_booking_transaction_cut_in_the_middle(
    pg: PgServer,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    bot: Bot,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    """The server dies after the booking row was inserted and before its
    reminders and the commit: crash recovery leaves nothing of it."""
    dp, _ = make_dispatcher(sessions, light, kb, calendar, language_ttl=30.0)
    citizen = Citizen(fake, bot, dp, "ru")
    _, _, confirm = await walk_to_confirm(citizen)

    fired = crash_after(engine, pg, "INSERT INTO bookings")
    down = await citizen.press(confirm)
    assert fired["count"] == 1, "the crash did not happen inside the booking transaction"
    assert [c.text for c in down] == [T("ru", "bk-db-down")]

    pg.start()
    assert await bookings_of(sessions, citizen.id) == []
    assert await reminders_of(sessions, citizen.id) == 0
    ticket = await citizen.press(confirm)
    [booking] = await bookings_of(sessions, citizen.id)
    assert booking.code in said(ticket)
    assert await reminders_of(sessions, citizen.id) == reminders_due(booking.starts_at) > 0


# -- applications -----------------------------------------------------------------------
FORM = [
    "Ахметов Болат Серикович",
    "Физика",
    "КазНУ им. аль-Фараби",
    "2001",
    "Ахметова Дана Болатовна",
    make_iin(date(1979, 10, 10), female=True),
    "+77011112233",
]


async def fill_to_summary(citizen: Citizen) -> None:
    await citizen.say("/start")
    await citizen.press(f"lang:{citizen.lang}")
    start = "Хочу подать заявление на дубликат диплома"
    if citizen.lang == "kk":
        start = "Дипломның телнұсқасына өтініш бергім келеді"
    await citizen.say(start)
    await citizen.press("app:consent:yes")
    for value in FORM:
        await citizen.say(value)
    await citizen.press("app:skip")  # the university kept its name
    await citizen.press("app:pick:reason:lost")
    await citizen.press("app:pick:requested:diploma_with_appendix")
    await citizen.press("app:pick:channel:psc")
    assert "app:confirm" in citizen.offered(), citizen.seen[-1].text


async def check_application_made(
    sessions: async_sessionmaker[AsyncSession], citizen: Citizen, before: dict[str, int]
) -> None:
    ticket = await citizen.press("app:confirm")
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT number, applicant_name, phone FROM applications WHERE user_id = :u"),
            {"u": citizen.id},
        )
        [(number, name, phone)] = rows.all()
    assert number in said(ticket)
    # The draft was not lost: the answers given before the outage are the application's.
    assert (name, phone) == ("Ахметова Дана Болатовна", "+77011112233")
    after = await application_rows(sessions, citizen.id)
    assert after == {
        "applications": 1,
        "events": 1,
        "handoffs": 1,
        "staff_notices": before["staff_notices"] + 1,
        "numbers_issued": before["numbers_issued"] + 1,
    }


@pytest.mark.parametrize(
    ("lang", "language_ttl", "expected"),
    [("ru", 30.0, "intake-db-down"), ("kk", 0.0, "tg-db-down-press")],
)
async def test_application_submitted_while_postgres_is_down(
    pg: PgServer,
    sessions: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    bot: Bot,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    lang: str,
    language_ttl: float,
    expected: str,
) -> None:
    dp, _ = make_dispatcher(sessions, light, kb, calendar, language_ttl=language_ttl)
    citizen = Citizen(fake, bot, dp, lang)
    await fill_to_summary(citizen)
    before = await application_rows(sessions, citizen.id)

    pg.crash()
    down = await citizen.press("app:confirm")
    assert len(down) == 1, said(down)
    assert down[0].text.startswith(T(lang, expected))
    assert T(lang, "tg-error") not in said(down)
    assert "app:confirm" in down[0].payloads  # the same step, one press away

    pg.start()
    assert await application_rows(sessions, citizen.id) == before  # nothing written
    await check_application_made(sessions, citizen, before)


async def test_application_transaction_cut_in_the_middle(
    pg: PgServer,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    fake: FakeTelegram,
    bot: Bot,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    """The server dies after the application, its number, its history and
    its hand-off record were written in the open transaction, before the
    staff notice and the commit: none of it survives."""
    dp, _ = make_dispatcher(sessions, light, kb, calendar, language_ttl=30.0)
    citizen = Citizen(fake, bot, dp, "ru")
    await fill_to_summary(citizen)
    before = await application_rows(sessions, citizen.id)

    fired = crash_after(engine, pg, "INSERT INTO application_handoffs")
    down = await citizen.press("app:confirm")
    assert fired["count"] == 1, "the crash did not happen inside the application transaction"
    assert down and down[0].text.startswith(T("ru", "intake-db-down"))

    pg.start()
    assert await application_rows(sessions, citizen.id) == before
    await check_application_made(sessions, citizen, before)
