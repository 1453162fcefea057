"""The bot process killed with SIGKILL in the middle of the three sends that
matter most: the ticket of a booking just confirmed, a status notification
from the outbox, a citizen's message relayed to the staff chat.

The real bot (`python -m bot`) talks to the fake Bot API server, which holds
the chosen call (`hold_next`) until the process is dead, then either carries
it out (Telegram had the request: the citizen / staff got it although the
bot never heard back) or drops it (the request never got past a gateway).
Then the bot is started again on the same database and the same Redis
(TEST_REDIS_URL when set, else in-process memory) and we count what
arrived.

What the process confirms to Telegram matters: the bot's poller
(bot/telegram.py `Poller`) confirms an update (getUpdates offset past it)
only once it was handled, so an update the process was killed in the
middle of is handed to the next process. That one handles it once the dead
process's leases lapse (its "handling" claim on the update and its Redis
lock on the citizen, LEASE = 10 s, bot/dedupe.py HANDLING_TTL and
bot/middlewares/ordering.py LOCK_TTL); without Redis at once. Handling is
therefore at least once across a crash: a reply that had not reached
Telegram is sent after the restart, and one that had is sent again — the
booking confirmation is idempotent (one booking, the ticket shown "again"),
a relayed message reaches the staff chat twice.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from actions.i18n import Translator
from nlu.light import LightModels
from storage import outbox
from storage.applications import ApplicantForm, Applications
from storage.booking import ACTIVE, Booking
from storage.db import make_engine, make_sessionmaker
from storage.handoffs import Handoff
from storage.models import utcnow
from tests.applications.support import make_iin
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.telegram.tg_support import TEST_REDIS_URL, BotProcess, bot_env, new_id, start_bot

pytestmark = pytest.mark.slow

T = Translator()
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
STAFF_CHAT_ID = -100_777_000_001
ALMATY = ZoneInfo("Asia/Almaty")
LEASE = 10.0  # HANDLING_TTL / LOCK_TTL: a dead process's claims lapse within it
# From SIGKILL to the redelivered update handled: the lease, plus the poller's
# retry of a busy update (1 s) and some slack; without Redis nothing to wait for.
RECOVERY = LEASE + 3.0 if TEST_REDIS_URL else 3.0


@pytest.fixture(scope="module", autouse=True)
def warm_models(light: LightModels) -> None:
    """Light models trained (or loaded) once here: the bot processes find them cached."""


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """The bot's database, kept across its restarts: a PostgreSQL database of
    the test's own (the bot delivers every pending outbox row it finds), or a
    SQLite file."""
    if not TEST_DATABASE_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(TEST_DATABASE_URL)
    name = f"sigkill_{secrets.token_hex(4)}"
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


class World:
    """One fake Telegram, one database, one bot token: bot processes come and go."""

    def __init__(self, fake: FakeTelegram, database_url: str, logs: Path) -> None:
        self.fake = fake
        self.logs = logs
        bot_id = new_id()
        self.env = bot_env(
            fake,
            f"{bot_id}:AAH{secrets.token_urlsafe(24)}",
            database_url,
            REDIS_URL=TEST_REDIS_URL,
            STAFF_CHAT_ID=str(STAFF_CHAT_ID),
            CONSOLE_PORT=str(_free_port()),
        )
        self.engine: AsyncEngine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.proc: BotProcess | None = None
        self.runs = 0

    async def start(self) -> BotProcess:
        self.runs += 1
        self.proc = await start_bot(self.fake, self.env, self.logs / f"run{self.runs}.log")
        return self.proc

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.process.kill()  # SIGKILL: no handler runs, nothing is flushed
        await asyncio.to_thread(self.proc.process.wait)
        assert self.proc.process.returncode == -9

    async def stop(self) -> None:
        if self.proc is not None and self.proc.process.poll() is None:
            assert await self.proc.stop() == 0, self.proc.log()[-3000:]

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    def confirmed_offset(self) -> int:
        """The highest update offset the bot processes confirmed to the server
        (a long poll confirms on arrival, still unanswered)."""
        polls = self.fake.of("getUpdates", ok_only=False)
        return max(int(c.params.get("offset") or 0) for c in polls)

    async def exchange(
        self, update: dict[str, Any], prefix: str | None = None, timeout: float = 30
    ) -> list[Call]:
        """Push `update`; wait for the bot's answer (with a `prefix` button, when given)."""
        user = _author(update)
        mark = self.fake.mark()
        self.fake.push(update)
        await self.fake.wait_for(
            "sendMessage",
            chat_id=user,
            since=mark,
            where=(lambda c: any(p.startswith(prefix) for p in c.payloads)) if prefix else None,
            timeout=timeout,
        )
        await self.fake.quiet(0.2)
        return self.fake.of("sendMessage", chat_id=user, since=mark)


def _free_port() -> int:
    from tests.telegram.tg_support import free_port

    return free_port()


def _author(update: dict[str, Any]) -> int:
    body = update.get("message") or update["callback_query"]
    return int(body["from"]["id"])


def _payloads(calls: list[Call], prefix: str) -> list[str]:
    return [p for c in calls for p in c.payloads if p.startswith(prefix)]


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with FakeTelegram() as fake:
        w = World(fake, database_url, tmp_path)
        try:
            yield w
        finally:
            await w.stop()
            await w.engine.dispose()


# -- 1. confirming a booking ---------------------------------------------------------------
async def _up_to_confirm(world: World, user: int) -> dict[str, Any]:
    """The citizen walks the booking keyboards up to "confirm"; the update
    pressing it (not pushed yet)."""
    fake = world.fake
    await world.exchange(fake.text(user, "/book"), "bk:s:")
    await world.exchange(fake.press(user, "bk:s:duplicate"), "bk:c:")
    await world.exchange(fake.press(user, "bk:c:ast"), "bk:o:")
    calls = await world.exchange(fake.press(user, "bk:o:ast-uni1"), "bk:d:")
    days = _payloads(calls, "bk:d:")
    today = f"bk:d:{datetime.now(ALMATY):%Y%m%d}"
    day = next((d for d in days if d > today), days[0])  # a later day: slots left for sure
    calls = await world.exchange(fake.press(user, day), "bk:t:")
    times = _payloads(calls, "bk:t:")
    calls = await world.exchange(fake.press(user, times[-1]), "bk:ok:")
    [confirm] = _payloads(calls, "bk:ok:")
    return fake.press(user, confirm)


async def _bookings(world: World, user: int) -> list[Booking]:
    async with world.sessions() as session:
        rows = await session.execute(select(Booking).where(Booking.user_id == user))
        return list(rows.scalars())


async def _windows_consistent(world: World, booking: Booking) -> None:
    """The slot's active rows hold distinct windows, one of them this booking's."""
    async with world.sessions() as session:
        rows = await session.execute(
            select(Booking.window_no).where(
                Booking.office_id == booking.office_id,
                Booking.starts_at == booking.starts_at,
                Booking.status == ACTIVE,
            )
        )
        windows = list(rows.scalars())
    assert len(windows) == len(set(windows)) == 1 and windows[0] >= 1


def _tickets(world: World, user: int, code: str) -> list[Call]:
    return [c for c in world.fake.of("sendMessage", chat_id=user) if code in c.text]


async def _kill_during_ticket(world: World, *, delivered: bool) -> tuple[int, Booking, float]:
    """Confirm; the ticket's sendMessage is held; SIGKILL; the held send is
    carried out or dropped; a new process starts and handles the confirm
    again. Returns the seconds from the kill to the redelivered ticket."""
    fake = world.fake
    await world.start()
    user = new_id()
    confirm = await _up_to_confirm(world, user)
    hold = fake.hold_next("sendMessage", chat_id=user)
    fake.push(confirm)
    await hold.wait_held(timeout=30)
    # The booking is committed before its ticket is sent.
    [booking] = await _bookings(world, user)
    await world.kill()
    killed = world.clock()
    hold.release(deliver=delivered)
    # Not confirmed to Telegram: the update is handed to the next process.
    assert world.confirmed_offset() <= confirm["update_id"]
    mark = fake.mark()
    await world.start()
    await fake.wait_for(
        "sendMessage",
        chat_id=user,
        since=mark,
        where=lambda c: booking.code in c.text,
        timeout=RECOVERY + 30,
    )
    took = world.clock() - killed
    await fake.quiet(1.5)
    return user, booking, took


async def test_killed_while_the_ticket_is_sent_which_telegram_took(world: World) -> None:
    """The ticket's request reached Telegram before the process died. The
    process cannot know that, so the new one handles the press again: the
    confirmation is idempotent (its key finds the booking), so the citizen
    has one booking, one window, and sees the ticket twice, the second time
    headed "ticket again" — the price of not losing it in the case below."""
    user, booking, took = await _kill_during_ticket(world, delivered=True)
    [after] = await _bookings(world, user)
    assert after.id == booking.id and after.status == ACTIVE
    await _windows_consistent(world, after)
    first, again = _tickets(world, user, after.code)
    assert not first.text.startswith(T("ru", "bk-ticket-again"))
    assert again.text.startswith(T("ru", "bk-ticket-again"))
    assert took < RECOVERY + 15, took


async def test_killed_before_the_ticket_reached_telegram(world: World) -> None:
    """The ticket never reached Telegram: the new process sends it, once,
    within the dead process's lease (plus its own start)."""
    user, booking, took = await _kill_during_ticket(world, delivered=False)
    [after] = await _bookings(world, user)  # exactly one booking, whatever happens
    assert after.id == booking.id and after.status == ACTIVE
    await _windows_consistent(world, after)
    [ticket] = _tickets(world, user, after.code)
    # Shown "again": the booking was found by its key, made by the dead process.
    assert ticket.text.startswith(T("ru", "bk-ticket-again"))
    assert took < RECOVERY + 15, took
    print(f"ticket delivered {took:.1f} s after SIGKILL")  # noqa: T201


async def test_killed_before_the_confirm_did_anything(world: World) -> None:
    """SIGKILL while the press is being answered (answerCallbackQuery, the
    confirm's first call): nothing is booked, and the update was not
    confirmed to Telegram. The new process handles the press again —
    with the conversation in Redis it books once and sends the ticket, as
    soon as the dead process's lock on the citizen and claim on the update
    lapse (LEASE, 10 s; it was 60 s / a 30 s wait before they were leases
    renewed while held): the citizen need not press again. Without Redis
    the draft died with the process and the citizen is told the
    confirmation expired."""
    fake = world.fake
    await world.start()
    user = new_id()
    confirm = await _up_to_confirm(world, user)
    hold = fake.hold_next("answerCallbackQuery")
    fake.push(confirm)
    await hold.wait_held(timeout=30)
    await world.kill()
    killed = world.clock()
    hold.release(deliver=False)
    assert world.confirmed_offset() <= confirm["update_id"]
    assert await _bookings(world, user) == []
    mark = fake.mark()
    await world.start()
    started = world.clock()
    [answer] = await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=RECOVERY + 30)
    redelivered, restarted = world.clock() - killed, world.clock() - started
    await fake.quiet(1.0)
    print(  # noqa: T201
        f"redelivered press answered {redelivered:.1f} s after SIGKILL, "
        f"{restarted:.1f} s after the restart"
    )
    assert redelivered < RECOVERY + 15, redelivered
    if not TEST_REDIS_URL:
        assert await _bookings(world, user) == []
        assert T("ru", "bk-expired-confirm") in answer.text
        return
    [booking] = await _bookings(world, user)
    await _windows_consistent(world, booking)
    assert booking.code in answer.text
    assert restarted <= LEASE + 2, restarted  # at most the lease after the restart
    # The citizen presses the same button again (the keyboard was retired,
    # an old client may still show it): no dead lock holds it up any more;
    # within PRESS_WINDOW it is a double tap of the keyboard the redelivered
    # press used, answered (the button stops spinning) and nothing more.
    data = confirm["callback_query"]["data"]
    again = fake.press(user, data, confirm["callback_query"]["message"])  # the same button
    mark = fake.mark()
    before = world.clock()
    fake.push(again)
    await fake.wait_for(
        "answerCallbackQuery",
        since=mark,
        where=lambda c: c.params.get("callback_query_id") == again["callback_query"]["id"],
        timeout=10,
    )
    waited = world.clock() - before
    await fake.quiet(1.0)
    assert waited < 3, waited
    [booking_after] = await _bookings(world, user)
    assert booking_after.id == booking.id
    assert len(_tickets(world, user, booking.code)) == 1


# -- 2. a status notification -----------------------------------------------------------------
async def _application(world: World, user: int) -> str:
    form = ApplicantForm(
        university_head_name="Сыдыков Ерлан Батташевич",
        specialty="Құқықтану",
        university="Е. А. Бөкетов атындағы Қарағанды университеті",
        graduation_year=2015,
        applicant_name="Нұрланұлы Дәулет",
        iin=make_iin(date(1993, 2, 3)),
        phone="+77023334455",
        reason="unusable",
        requested="diploma",
    )
    app = await Applications(world.sessions).create(
        form,
        user_id=user,
        lang="ru",
        channel="psc",
        due_date=datetime.now(ALMATY).date() + timedelta(days=15),
    )
    return app.number


async def _outbox_of(world: World, user: int) -> list[outbox.OutboxMessage]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(outbox.OutboxMessage).where(outbox.OutboxMessage.chat_id == user)
        )
        return list(rows.scalars())


async def test_killed_while_sending_status_notifications(world: World) -> None:
    """Two citizens' status changes; both sends are held when the process is
    killed; Telegram took the first request, the second never got there.
    Nothing is sent twice: the rows stay `sending` while their lease (120 s)
    runs, then become `unknown` and are never sent again. The first citizen
    got the notice once; the second lost it (at most once, by design)."""
    fake = world.fake
    got, lost = new_id(), new_id()
    await world.start()  # it migrates the database
    numbers = {user: await _application(world, user) for user in (got, lost)}
    holds = {user: fake.hold_next("sendMessage", chat_id=user) for user in (got, lost)}
    apps = Applications(world.sessions)
    for number in numbers.values():
        await apps.change_status(number, "in_review", actor="staff-test")
    for hold in holds.values():
        await hold.wait_held(timeout=30)
    for user in (got, lost):
        [row] = await _outbox_of(world, user)
        assert row.status == outbox.SENDING
    await world.kill()
    holds[got].release(deliver=True)
    holds[lost].release(deliver=False)

    await world.start()
    await asyncio.sleep(2.5)  # the outbox is looked at every second
    for user in (got, lost):
        [row] = await _outbox_of(world, user)
        assert row.status == outbox.SENDING  # its lease has not run out: left alone
    # Two minutes later (the lease, moved back here rather than waited for):
    await world.stop()
    async with world.sessions() as session, session.begin():
        await session.execute(
            update(outbox.OutboxMessage)
            .where(outbox.OutboxMessage.chat_id.in_((got, lost)))
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    await world.start()
    await asyncio.sleep(2.5)
    for user in (got, lost):
        [row] = await _outbox_of(world, user)
        assert row.status == outbox.UNKNOWN, row.status
        assert row.attempts == 1
    sent = {user: len(fake.of("sendMessage", chat_id=user)) for user in (got, lost)}
    tried = {user: len(fake.of("sendMessage", chat_id=user, ok_only=False)) for user in (got, lost)}
    assert sent == {got: 1, lost: 0}
    assert tried == {got: 1, lost: 1}  # one attempt each, never a second
    async with world.sessions() as session:
        counts = await outbox.count_by_status(session)
    assert counts.get(outbox.UNKNOWN) == 2


# -- 3. relaying to staff ------------------------------------------------------------------------
async def _kill_during_relay(world: World, *, delivered: bool) -> tuple[int, str, float]:
    """The citizen writes in a hand-off; its relay to the staff chat is
    held; SIGKILL; the held send is carried out or dropped; a new process
    starts and handles the message again. Returns the seconds from the kill
    to the redelivered relay."""
    fake = world.fake
    await world.start()
    user = new_id()
    await world.exchange(fake.text(user, "/operator"), "ho:")
    async with world.sessions() as session:
        opened = await session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.user_id == user)
        )
    assert opened == 1
    words = f"мой вопрос номер {secrets.token_hex(3)}"
    hold = fake.hold_next("sendMessage", chat_id=STAFF_CHAT_ID)
    update_ = fake.text(user, words)
    fake.push(update_)
    await hold.wait_held(timeout=30)
    assert words in hold.calls[0].text
    await world.kill()
    killed = world.clock()
    hold.release(deliver=delivered)
    assert world.confirmed_offset() <= update_["update_id"]
    mark = fake.mark()
    await world.start()
    await fake.wait_for(
        "sendMessage",
        chat_id=STAFF_CHAT_ID,
        since=mark,
        where=lambda c: words in c.text,
        timeout=RECOVERY + 30,
    )
    took = world.clock() - killed
    await fake.quiet(1.5)
    return user, words, took


def _relayed(world: World, words: str) -> list[Call]:
    return [c for c in world.fake.of("sendMessage", chat_id=STAFF_CHAT_ID) if words in c.text]


async def test_killed_while_relaying_a_message_telegram_took(world: World) -> None:
    """The relay reached Telegram before the process died; the new process
    cannot know it and relays the message again: the staff see it twice,
    both in the citizen's topic (at least once, not exactly once)."""
    _, words, took = await _kill_during_relay(world, delivered=True)
    relayed = _relayed(world, words)
    assert len(relayed) == 2
    topics = {c.params.get("message_thread_id") for c in relayed}
    assert len(topics) == 1 and None not in topics  # in the citizen's topic
    assert took < RECOVERY + 15, took


async def test_killed_before_the_relay_reached_telegram(world: World) -> None:
    _, words, took = await _kill_during_relay(world, delivered=False)
    [relayed] = _relayed(world, words)
    assert relayed.params.get("message_thread_id")  # in the citizen's topic
    assert took < RECOVERY + 15, took
    print(f"relay delivered {took:.1f} s after SIGKILL")  # noqa: T201
