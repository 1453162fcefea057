"""End to end: the real bot process (`python -m bot`) with the real Rasa
server, talking HTTP to the fake Bot API server, books slots in Kazakh and
Russian the way a citizen would: by the keyboards (service -> city ->
office -> day -> time -> confirm -> ticket) and by text with a date
("ертең ЦОН-ға жазылғым келеді", "запишите меня на пятницу после обеда"),
then looks at, moves and cancels the booking. A double press of "confirm"
makes one booking; a grant gets the live-queue answer with its source.

The bot process runs on the real clock, so the dates are worked out here
with the same calendar and rules. The database is a PostgreSQL database of
its own when TEST_DATABASE_URL is set, else a SQLite file. The conversations
are written, as the fake server recorded them, to
build/booking-transcripts.txt.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from actions.booking import BookingRules, Offices
from actions.booking.slots import bookable_slots, day_problem
from actions.booking.texts import date_text, office_label
from actions.dates import find_date
from actions.i18n import Translator
from bot.ratelimit import FloodPolicy
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.booking import (
    ACTIVE,
    CANCELLED,
    REMINDER_PENDING,
    RESCHEDULED,
    Booking,
    BookingReminder,
)
from storage.db import create_schema, make_engine, make_sessionmaker
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.telegram.tg_support import REPO, BotProcess, bot_env, new_id, start_bot

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

T = Translator()
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
FLOOD = FloodPolicy()  # what the bot process uses
TRANSCRIPTS = REPO / "build" / "booking-transcripts.txt"
# Which conversations go into build/booking-transcripts.txt, in this order.
TRANSCRIBED = ("kk: by text with a date", "ru: by text with a date")


@dataclass
class World:
    fake: FakeTelegram
    proc: BotProcess
    engine: AsyncEngine
    nlu: NLU
    calendar: Calendar
    offices: Offices
    rules: BookingRules
    transcripts: dict[str, list[str]] = field(default_factory=dict)

    def now(self) -> datetime:
        return datetime.now(self.calendar.tz)

    async def bookings(self, user: int) -> list[Booking]:
        async with make_sessionmaker(self.engine)() as session:
            rows = await session.execute(
                select(Booking).where(Booking.user_id == user).order_by(Booking.id)
            )
            return list(rows.scalars())

    async def pending_reminders(self, booking_id: int) -> int:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(BookingReminder.id).where(
                    BookingReminder.booking_id == booking_id,
                    BookingReminder.status == REMINDER_PENDING,
                )
            )
            return len(rows.all())


async def _database(tmp_path: Path) -> AsyncGenerator[str, None]:
    """The bot's database: its own PostgreSQL database (the bot delivers every
    pending outbox row it finds, so it shares tables with no other suite), or
    a SQLite file."""
    if not TEST_DATABASE_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(TEST_DATABASE_URL)
    name = f"booking_e2e_{secrets.token_hex(4)}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="module")
async def world(
    rasa_nlu: NLU,
    light: LightModels,  # trained or loaded here once: the bot process finds it cached
    calendar: Calendar,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    assert rasa_nlu.client is not None
    tmp = tmp_path_factory.mktemp("booking-e2e")
    databases = _database(tmp)
    url = await anext(databases)
    engine = make_engine(url)
    await create_schema(engine)
    async with FakeTelegram() as fake:
        env = bot_env(
            fake,
            f"{new_id()}:AAH{secrets.token_urlsafe(24)}",
            url,
            NLU_URL=rasa_nlu.client.url,
            NLU_TOKEN=rasa_nlu.client.token,
        )
        proc = await start_bot(fake, env, tmp / "bot.log")
        world = World(fake, proc, engine, rasa_nlu, calendar, Offices.load(), BookingRules.load())
        try:
            yield world
        finally:
            code = await proc.stop()
            await engine.dispose()
            await databases.aclose()
            _write_transcripts(world.transcripts)
        log = proc.log()
        assert code == 0, log[-3000:]
        assert "degraded mode" not in log  # the intents came from the Rasa model
        assert "Traceback" not in log, log[-3000:]


def _write_transcripts(transcripts: dict[str, list[str]]) -> None:
    chosen = [name for name in TRANSCRIBED if name in transcripts]
    if not chosen:
        return
    TRANSCRIPTS.parent.mkdir(parents=True, exist_ok=True)
    parts = [
        "Booking in the electronic queue, as the fake Telegram Bot API server recorded it:\n"
        "the real bot process (python -m bot) with the real Rasa server "
        "(tests/booking/test_e2e.py).\n"
        "'>' is what the citizen sent (a message, or a press of the button shown), "
        "'<' what the bot sent; [..] are inline buttons.\n"
    ]
    for name in chosen:
        parts.append(f"=== {name} ===\n" + "\n".join(transcripts[name]) + "\n")
    TRANSCRIPTS.write_text("\n".join(parts), encoding="utf-8")


class Citizen:
    """One Telegram user talking to the bot process through the fake server."""

    def __init__(self, world: World, lang: str, name: str) -> None:
        self.world, self.fake, self.lang = world, world.fake, lang
        self.id = new_id()
        self.last: list[Call] = []
        self.lines = world.transcripts.setdefault(name, [])
        # The bot's flood guard (a token bucket per citizen): tap no faster
        # than it lets a person, or presses are dropped with a notice.
        self.tokens = FLOOD.burst
        self.at = time.monotonic()

    async def _pace(self, n: int) -> None:
        now = time.monotonic()
        self.tokens = min(FLOOD.burst, self.tokens + (now - self.at) * FLOOD.rate)
        self.at = now
        if self.tokens < n:
            await asyncio.sleep((n - self.tokens) / FLOOD.rate + 0.1)
            self.tokens, self.at = float(n), time.monotonic()
        self.tokens -= n

    @property
    def text(self) -> str:
        return "\n".join(c.text for c in self.last)

    @property
    def payloads(self) -> list[str]:
        return [p for c in self.last for p in c.payloads]

    def first(self, prefix: str) -> str:
        found = next((p for p in self.payloads if p.startswith(prefix)), None)
        assert found is not None, (prefix, self.payloads, self.text)
        return found

    async def _exchange(self, updates: list[dict[str, object]], count: int = 1) -> list[Call]:
        await self._pace(len(updates))
        mark = self.fake.mark()
        self.fake.push(*updates)
        await self.fake.wait_for(
            "sendMessage", chat_id=self.id, since=mark, count=count, timeout=30
        )
        await self.fake.quiet(0.3)
        self.last = self.fake.of("sendMessage", chat_id=self.id, since=mark)
        for call in self.last:
            self.lines.append(_render(call))
        return self.last

    async def says(self, text: str) -> list[Call]:
        self.lines.append(f"> {text}")
        return await self._exchange([self.fake.text(self.id, text, lang=self.lang)])

    async def presses(self, payload: str, times: int = 1) -> list[Call]:
        """Press the button `payload` of the bot's last message that has it
        (`times` presses at once: a double click)."""
        message = self.fake.last_message(self.id, with_button=payload)
        assert message is not None, (payload, self.payloads)
        label = _label(message, payload)
        self.lines.append(f"> [{label}]" + (f" x{times}, at once" if times > 1 else ""))
        presses = [self.fake.press(self.id, payload, message, lang=self.lang) for _ in range(times)]
        return await self._exchange(presses)

    async def presses_first(self, prefix: str) -> list[Call]:
        return await self.presses(self.first(prefix))


def _label(message: dict[str, object], payload: str) -> str:
    markup = message.get("reply_markup") or {}
    assert isinstance(markup, dict)
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if button.get("callback_data") == payload:
                return str(button.get("text"))
    return payload


def _render(call: Call) -> str:
    lines = [f"< {line}" if i == 0 else f"  {line}" for i, line in enumerate(call.text.split("\n"))]
    for row in call.buttons:
        lines.append("  " + " ".join(f"[{b.get('text')}]" for b in row))
    return "\n".join(lines)


def _ticket_code(text: str, lang: str) -> str:
    marker = "Талон: " if "Жаңа талон" not in text and "Новый талон" not in text else ""
    marker = marker or ("Жаңа талон: " if lang == "kk" else "Новый талон: ")
    return text.split(marker, 1)[1].split("\n", 1)[0].strip()


async def _rasa_says(world: World, text: str, intent: str) -> None:
    parsed = await world.nlu.parse(text)
    assert (parsed.intent, parsed.source) == (intent, "rasa"), parsed


def _free_day(world: World, office_id: str, day: date, part: str | None = None) -> bool:
    """Whether the bot should take `day` at once (its slots, capacity aside:
    these tests book far fewer than an office holds)."""
    office = world.offices.get(office_id)
    assert office is not None
    now = world.now()
    return day_problem(world.calendar, office, day, now, world.rules, part) is None and bool(
        bookable_slots(world.calendar, office, day, now, world.rules, part)
    )


async def _pick_time(citizen: Citizen) -> None:
    """At the day or the time question, take a day after today and its
    latest time shown: a time still ahead by the minimum notice when
    "confirm" is pressed, however slow the run."""
    if not any(p.startswith("bk:t:") for p in citizen.payloads):
        await citizen.presses(_a_later_day(citizen))
    await citizen.presses([p for p in citizen.payloads if p.startswith("bk:t:")][-1])


def _a_later_day(citizen: Citizen) -> str:
    days = [p for p in citizen.payloads if p.startswith("bk:d:")]
    assert days, citizen.text
    today = f"bk:d:{citizen.world.now():%Y%m%d}"
    return next((d for d in days if d > today), days[0])


# -- by the keyboards -------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_booking_with_the_keyboards(world: World, lang: str) -> None:
    citizen = Citizen(world, lang, f"{lang}: with the keyboards")
    await citizen.says("/start")  # a new user: the bot asks for the language
    await citizen.presses(f"lang:{lang}")
    assert T(lang, "menu-title") in citizen.text
    await citizen.says("/book")
    assert T(lang, "bk-ask-service") in citizen.text
    await citizen.presses("bk:s:duplicate")
    assert T(lang, "bk-ask-city") in citizen.text
    await citizen.presses("bk:c:ast")
    assert T(lang, "bk-ask-office", city="Астана") in citizen.text
    assert T(lang, "bk-sample-note") in citizen.text  # the offices are samples, and say so
    await citizen.presses("bk:o:ast-uni1")
    await citizen.presses(_a_later_day(citizen))
    times = [p for p in citizen.payloads if p.startswith("bk:t:")]
    assert times and all("09:00" <= f"{p[5:7]}:{p[7:9]}" < "18:00" for p in times)
    assert not any("1300" <= p[5:9] < "1400" for p in times)  # lunch
    await citizen.presses(times[-1])
    assert T(lang, "bk-btn-confirm") in str(citizen.last[-1].buttons)
    await citizen.presses_first("bk:ok:")

    [booking] = await world.bookings(citizen.id)
    assert booking.status == ACTIVE and booking.office_id == "ast-uni1"
    assert booking.lang == lang
    ticket = citizen.text
    assert _ticket_code(ticket, lang) == booking.code
    assert T(lang, "bk-bring") in ticket  # what to bring, for the university office
    assert T(lang, "cite-line", cite="").strip() in ticket
    day = booking.starts_at.astimezone(world.calendar.tz)
    assert f"{day:%d.%m.%Y}" in ticket and f"{day:%H:%M}" in ticket
    assert citizen.payloads == ["bk:my", "menu"]

    # My bookings, then cancel it: the window is free, no reminder is left.
    await citizen.says("менің жазылуларым" if lang == "kk" else "мои записи")
    assert T(lang, "bk-my-title") in citizen.text and booking.code in citizen.text
    await citizen.presses(f"bk:cn:{booking.code}")
    await citizen.presses(f"bk:cy:{booking.code}")
    assert T(lang, "bk-cancelled", code=booking.code) in citizen.text
    [cancelled] = await world.bookings(citizen.id)
    assert cancelled.status == CANCELLED
    assert await world.pending_reminders(cancelled.id) == 0
    await citizen.presses("bk:my")
    assert T(lang, "bk-my-none") in citizen.text


# -- by text, with the date taken from the message ----------------------------------------------
async def test_kazakh_by_text_tomorrow_at_a_psc(world: World) -> None:
    text = "ертең ЦОН-ға жазылғым келеді"
    await _rasa_says(world, text, "book_queue")
    citizen = Citizen(world, "kk", "kk: by text with a date")
    tomorrow = world.now().date().toordinal() + 1
    day = date.fromordinal(tomorrow)
    await citizen.says(text)
    assert T("kk", "bk-ask-city") in citizen.text  # the service and the kind of office are known
    await citizen.presses("bk:c:ast")
    # Only ЦОН offices: the message said so.
    assert {p for p in citizen.payloads if p.startswith("bk:o:")} == {
        "bk:o:ast-psc1",
        "bk:o:ast-psc2",
    }
    await citizen.presses("bk:o:ast-psc1")
    office = world.offices.get("ast-psc1")
    assert office is not None
    if _free_day(world, "ast-psc1", day):
        wanted = T(
            "kk", "bk-ask-time", office=office_label(T, "kk", office), date=date_text(T, "kk", day)
        )
        assert wanted in citizen.text
        times = [p for p in citizen.payloads if p.startswith("bk:t:")]
        assert times and max(p[5:9] for p in times) < "2000"  # ЦОН: no lunch, open till 20:00
    else:  # tomorrow is a Sunday, a holiday, or over: said, and other days offered
        assert date_text(T, "kk", day) in citizen.text and "bk:d:" in str(citizen.payloads)
    await _pick_time(citizen)
    await citizen.presses_first("bk:ok:")
    [booking] = await world.bookings(citizen.id)
    assert booking.status == ACTIVE and booking.office_id == "ast-psc1"
    assert _ticket_code(citizen.text, "kk") == booking.code and "Талон:" in citizen.text
    if _free_day(world, "ast-psc1", day):
        assert booking.starts_at.astimezone(world.calendar.tz).date() == day
    assert "Дереккөз:" in citizen.text  # what to bring at a ЦОН, with its source

    # "I want to move my booking": straight to moving the one there is; the
    # old one stays until a new time is confirmed.
    await citizen.says("жазылуды ауыстырғым келеді")
    assert T("kk", "bk-resched-start", code=booking.code) in citizen.text
    await citizen.presses("bk:x")
    assert T("kk", "bk-stopped") in citizen.text
    assert [b.status for b in await world.bookings(citizen.id)] == [ACTIVE]


async def test_russian_by_text_friday_afternoon_with_a_double_click_and_a_move(
    world: World,
) -> None:
    text = "запишите меня на пятницу после обеда"
    await _rasa_says(world, text, "book_queue")
    citizen = Citizen(world, "ru", "ru: by text with a date")
    friday = find_date(text, world.now().date())
    assert friday is not None and friday.weekday() == 4
    await citizen.says(text)
    # No service named: asked (the day and the part of the day are kept).
    assert T("ru", "bk-ask-service") in citizen.text
    await citizen.presses("bk:s:duplicate")
    assert T("ru", "bk-ask-city") in citizen.text
    await citizen.presses("bk:c:alm")
    await citizen.presses("bk:o:alm-uni1")
    office = world.offices.get("alm-uni1")
    assert office is not None
    if _free_day(world, "alm-uni1", friday, "afternoon"):
        wanted = T(
            "ru",
            "bk-ask-time",
            office=office_label(T, "ru", office),
            date=date_text(T, "ru", friday),
        )
        assert wanted in citizen.text
        assert T("ru", "bk-only-part", part=T("ru", "bk-part-afternoon")) in citizen.text
        times = [p for p in citizen.payloads if p.startswith("bk:t:")]
        assert times and all(p[5:9] >= "1400" for p in times)  # after lunch only
    else:
        assert date_text(T, "ru", friday) in citizen.text
    await _pick_time(citizen)

    # "Confirm" pressed twice at once: one booking. Each press is answered;
    # a ticket that a second press may bring is the same booking's.
    mark = world.fake.mark()
    await citizen.presses(citizen.first("bk:ok:"), times=2)
    [booking] = await world.bookings(citizen.id)
    assert booking.status == ACTIVE
    assert len(world.fake.of("answerCallbackQuery", since=mark)) == 2
    tickets = [c.text for c in citizen.last if "Талон:" in c.text]
    assert tickets and all(_ticket_code(t, "ru") == booking.code for t in tickets)
    if _free_day(world, "alm-uni1", friday, "afternoon"):
        starts = booking.starts_at.astimezone(world.calendar.tz)
        assert starts.date() == friday and starts.hour >= 14

    # Move it: the old one gives way to a new one, in one step.
    await citizen.says("мои записи")
    assert booking.code in citizen.text
    await citizen.presses(f"bk:rs:{booking.code}")
    assert T("ru", "bk-resched-start", code=booking.code) in citizen.text
    await _pick_time(citizen)
    assert T("ru", "bk-resched-note", code=booking.code) in citizen.text
    await citizen.presses_first("bk:ok:")
    assert "Запись перенесена" in citizen.text
    old, new = await world.bookings(citizen.id)
    assert (old.status, new.status) == (RESCHEDULED, ACTIVE)
    assert new.replaces_id == old.id and _ticket_code(citizen.text, "ru") == new.code
    assert await world.pending_reminders(old.id) == 0

    # Cancel by text (the Rasa intent cancel_booking).
    await citizen.says("отменить запись")
    assert new.code in citizen.text
    await citizen.presses(f"bk:cy:{new.code}")
    assert T("ru", "bk-cancelled", code=new.code) in citizen.text
    assert [b.status for b in await world.bookings(citizen.id)] == [RESCHEDULED, CANCELLED]


# -- grants: a live queue -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "text", "service"),
    [
        ("kk", "грантқа кезекке жазылғым келеді", "grant"),
        ("ru", "хочу записаться в очередь на грант", "grant"),
        ("ru", "запишите на социальную поддержку", "social_support"),
    ],
)
async def test_a_grant_cannot_be_booked_the_live_queue_is_explained(
    world: World, lang: str, text: str, service: str
) -> None:
    await _rasa_says(world, text, "book_queue")
    citizen = Citizen(world, lang, f"{lang}: {service}")
    await citizen.says(text)
    answer = citizen.text
    assert T(lang, "bk-live-queue") in answer
    assert T(lang, "cite-line", cite="").strip() in answer  # the clause it comes from
    assert "bk:s:duplicate" in citizen.payloads
    assert await world.bookings(citizen.id) == []
