"""Staff commands in the staff chat and the citizen's notifications, over
HTTP against the fake Bot API server: the dispatcher as the bot builds it,
and the paced outbox sender delivering each status change once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.intake import ApplicationFlow
from bot.dispatcher import Shared, build_dispatcher
from bot.ratelimit import MemoryBuckets
from bot.render import send_outcome
from bot.sender import Pace, PacedSender, RetryPolicy
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import ApplicantForm, Application, Applications
from storage.users import SqlUserDirectory
from tests.applications.conftest import NOW, Clock
from tests.applications.support import Chat, make_iin, pdf_text
from tests.fakes.telegram_api import FakeTelegram

STAFF_USER = 777_001
STAFF_CHAT_ID = -100_000_000_000 - STAFF_USER  # the fake's id for STAFF_USER's group
CITIZEN = 888_001
FAST = Pace(per_chat=10.0, total=40.0, concurrency=4, idle=0.05, lease=30.0)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot("424242:APPS", fake.url, retry=RetryPolicy(attempts=2, backoff=0.05))
    yield client
    await client.session.close()


@pytest.fixture
def applications(sessions: async_sessionmaker[AsyncSession]) -> Applications:
    return Applications(sessions, staff_chat_id=STAFF_CHAT_ID)


@pytest.fixture
def dispatcher(
    monkeypatch: pytest.MonkeyPatch,
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
) -> Dispatcher:
    monkeypatch.setenv("STAFF_CHAT_ID", str(STAFF_CHAT_ID))
    nlu = NLU(client=None, light=light)
    assistant = Assistant(
        nlu,
        kb,
        calendar,
        clock=clock,
        users=SqlUserDirectory(sessions),
        flows=[ApplicationFlow(applications, nlu)],
    )
    return build_dispatcher(assistant, sessions, Shared())


async def feed(dp: Dispatcher, bot: Bot, update: dict[str, Any]) -> None:
    await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))


async def staff_says(fake: FakeTelegram, dp: Dispatcher, bot: Bot, text: str) -> str:
    mark = fake.mark()
    await feed(dp, bot, fake.text(STAFF_USER, text, chat_type="supergroup"))
    calls = fake.of("sendMessage", chat_id=STAFF_CHAT_ID, since=mark)
    return "\n".join(c.text for c in calls)


async def submitted(applications: Applications, lang: str = "kk") -> Application:
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
    return await applications.create(
        form, user_id=CITIZEN, lang=lang, channel="psc", due_date=date(2026, 12, 26), now=NOW
    )


async def deliver(bot: Bot, sessions: async_sessionmaker[AsyncSession], worker: str) -> None:
    """One sender process: runs until the outbox is quiet, then stops."""
    sender = PacedSender(bot, sessions, MemoryBuckets(), FAST, worker=worker)
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.6)
    await sender.stop()
    await task


async def test_staff_moves_an_application_and_the_citizen_hears_once(
    fake: FakeTelegram,
    bot: Bot,
    dispatcher: Dispatcher,
    applications: Applications,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    app = await submitted(applications)
    n = app.number

    card = await staff_says(fake, dispatcher, bot, f"/app {n}")
    assert n in card and "Нұрланұлы Дәулет" in card and "+77023334455" in card
    iin = app.iin or ""
    assert iin not in card and iin[:4] + "******" in card  # IIN masked in the chat

    text = await staff_says(fake, dispatcher, bot, f"/setstatus {n} ready")
    assert "received" in text and "in_review" in text  # not allowed; what is
    text = await staff_says(fake, dispatcher, bot, f"/setstatus {n} in_review")
    assert "received → in_review" in text
    text = await staff_says(fake, dispatcher, bot, f"/setstatus {n} ready")
    assert "ready" in text and "АДРЕС" in text  # a place is needed
    text = await staff_says(
        fake, dispatcher, bot, f"/setstatus {n} ready ХҚО, Абай даңғылы 2, 5-терезе"
    )
    assert "in_review → ready" in text
    listing = await staff_says(fake, dispatcher, bot, "/apps")
    assert n in listing and "ready" in listing

    # The sender delivers; a second sender (a restart) sends nothing again.
    mark = fake.mark()
    await deliver(bot, sessions, "first")
    await deliver(bot, sessions, "second")
    got = fake.of("sendMessage", chat_id=CITIZEN, since=mark)
    assert len(got) == 2
    assert "жұмысқа алынды" in got[0].text  # the citizen's language: Kazakh
    assert "ХҚО, Абай даңғылы 2, 5-терезе" in got[1].text
    assert got[1].payloads == ["app:status"]
    # The staff chat heard of the new application once, too.
    new = fake.of("sendMessage", chat_id=STAFF_CHAT_ID, since=mark)
    assert [c.text.count(n) >= 1 for c in new] == [True]


async def test_staff_commands_work_only_for_members_of_the_staff_chat(
    fake: FakeTelegram,
    bot: Bot,
    dispatcher: Dispatcher,
    applications: Applications,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = await submitted(applications, lang="ru")
    # A citizen in a private chat: the staff command means nothing there.
    await feed(dispatcher, bot, fake.text(CITIZEN, f"/setstatus {app.number} in_review"))
    stored = await applications.get(app.number)
    assert stored is not None and stored.status == "received"

    # Someone who has left the staff chat.
    async def left(token: str, params: dict[str, Any]) -> Any:
        return {"status": "left", "user": fake.user(int(params["user_id"]))}

    monkeypatch.setattr(fake, "_m_getChatMember", left)
    outsider = STAFF_USER + 1
    staff_group = {"id": STAFF_CHAT_ID, "type": "supergroup", "title": "Staff"}
    update = fake.text(outsider, f"/setstatus {app.number} in_review", chat_type="supergroup")
    update["message"]["chat"] = staff_group
    await feed(dispatcher, bot, update)
    stored = await applications.get(app.number)
    assert stored is not None and stored.status == "received"


async def test_the_pdf_goes_out_as_a_document(
    fake: FakeTelegram, bot: Bot, assistant: Assistant
) -> None:
    chat = Chat(assistant, CITIZEN + 1)
    await chat.say("Хочу подать заявление на дубликат диплома")
    await chat.press("app:consent:yes")
    for text in (
        "Ахметов Болат Серикович",
        "Физика",
        "КазНУ им. аль-Фараби",
        "2001",
        "Ахметова Дана Болатовна",
        make_iin(date(1979, 10, 10), female=True),
        "+77011112233",
    ):
        await chat.say(text)
    await chat.press("app:skip")
    for payload in (
        "app:pick:reason:filling_errors",
        "app:pick:requested:diploma",
        "app:pick:channel:provider",
        "app:confirm",
    ):
        await chat.press(payload)
    mark = fake.mark()
    await send_outcome(bot, CITIZEN + 1, chat.last)
    [doc] = fake.of("sendDocument", chat_id=CITIZEN + 1, since=mark)
    assert doc.params["document"]["filename"] == "DUP-2026-00001.pdf"
    assert doc.params["document"]["size"] > 5000
    assert "DUP-2026-00001" in doc.params["caption"]
    [message] = fake.of("sendMessage", chat_id=CITIZEN + 1, since=mark)
    assert "DUP-2026-00001" in message.text
    [pdf] = [r.document for r in chat.last.replies if r.document is not None]
    assert pdf is not None
    assert "ошибки при заполнении документа" in " ".join(pdf_text(pdf[1]).split())
