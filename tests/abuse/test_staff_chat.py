"""What reaches the staff chat, and what comes back from it: no full IIN or
phone number in any staff-chat message; a citizen message of any length
relayed whole; an agent's edit reaching the citizen; /forget taking the
citizen's topic away. Through the dispatcher and the fake Bot API."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from actions.i18n import Translator
from actions.validators import mask_iin, mask_name, mask_phone
from bot.dispatcher import Shared, build_dispatcher
from bot.ratelimit import FloodPolicy
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from storage.db import make_sessionmaker
from storage.handoffs import Handoff, HandoffMessage, StaffTopic
from tests.applications.support import make_iin
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.handoff.conftest import STAFF_CHAT, Desk, build_desk
from tests.telegram.tg_support import FAST_RETRY, new_id

T = Translator()
IIN = make_iin(date(1990, 3, 15))
OTHER_IIN = make_iin(date(1988, 11, 2), female=True)
PHONE = "+77012345678"
OTHER_PHONE = "+77475550011"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
    yield client
    await client.session.close()


@pytest.fixture
def make_desk(
    fake: FakeTelegram,
    bot: Bot,
    engine: AsyncEngine,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Callable[..., Desk]:
    sessions = make_sessionmaker(engine)

    def make(**kw: Any) -> Desk:
        desk = build_desk(fake, bot, sessions, light, kb, calendar, **kw)
        # A whole form typed in a row: more than the flood guard lets through.
        flood = FloodPolicy(burst=1000, press_burst=1000)
        desk.dp = build_dispatcher(desk.assistant, sessions, Shared(flood=flood))
        return desk

    return make


async def hand_off(desk: Desk, user: int, text: str = "соедините с оператором") -> int:
    mark = desk.fake.mark()
    await desk.say(user, text)
    [topic] = desk.fake.of("createForumTopic", since=mark)
    return int(topic.result["message_thread_id"])


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def assert_no_full_iin_or_phone(calls: list[Call], *iins: str, phones: tuple[str, ...]) -> None:
    for call in calls:
        shown = call.text + " " + str(call.params.get("name", ""))
        # Digits only, whatever the separators: 9001 0130 0017, 8 (701) 234-56-78.
        plain = digits(shown)
        for iin in iins:
            assert iin not in plain, shown
        for phone in phones:
            assert phone[2:] not in plain, shown  # the 10 digits after +7


# -- personal data in the staff chat -------------------------------------------------------------
async def test_staff_group_messages_hold_no_full_iin_or_phone(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(with_intake=True)
    user = new_id()
    mark = desk.fake.mark()
    # The whole application form, up to its summary (which repeats the IIN and phone).
    await desk.say(user, "хочу подать заявление на дубликат диплома")
    await desk.press(user, "app:consent:yes")
    for answer in (
        "Ахметов Болат Серикович",
        "Информационные системы",
        "Евразийский национальный университет",
        "2012",
        "Ахметова Айгерим Болатовна",
        IIN,
        "8 (701) 234-56-78",
    ):
        await desk.say(user, answer)
    await desk.press(user, "app:skip")
    await desk.press(user, "app:pick:reason:lost")
    await desk.press(user, "app:pick:requested:diploma_with_appendix")
    [summary] = await desk.press(user, "app:pick:channel:psc")
    assert "app:confirm" in summary.payloads
    assert IIN in summary.text and PHONE in summary.text  # the citizen checks them whole
    # Typed in a question, with the separators people use.
    spaced = f"{OTHER_IIN[:6]} {OTHER_IIN[6:]}"
    await desk.say(user, f"мой ИИН {spaced}, телефон 8 747 555 00 11, а у мамы {OTHER_IIN}")

    thread = await hand_off(desk, user, "/operator")
    await desk.say(
        user,
        f"перезвоните на {PHONE} или +7 (747) 555-00-11, ИИН {IIN}, Ахметова Айгерим Болатовна",
    )
    staff = desk.staff_posts(mark)
    assert len(staff) >= 2
    header = staff[0]
    assert header.params["message_thread_id"] == thread
    assert T("ru", "ho-staff-recent") in header.text
    # The agent still sees that something was there, masked.
    assert mask_iin(OTHER_IIN) in header.text and mask_phone(OTHER_PHONE) in header.text
    assert mask_iin(IIN) in staff[-1].text and mask_phone(PHONE) in staff[-1].text
    # The form's names too: the agent reads initials.
    for name in ("Ахметова Айгерим Болатовна", "Ахметов Болат Серикович"):
        assert not any(name in c.text for c in staff)
    assert mask_name("Ахметова Айгерим Болатовна") in header.text
    assert_no_full_iin_or_phone(
        staff + desk.fake.of("createForumTopic", since=mark),
        IIN,
        OTHER_IIN,
        phones=(PHONE, OTHER_PHONE),
    )


# -- long messages ---------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [3_000, 9_000])
async def test_a_long_citizen_message_reaches_the_topic_whole(
    make_desk: Callable[..., Desk], length: int
) -> None:
    desk = make_desk()
    user = new_id()
    thread = await hand_off(desk, user)
    words = [f"слово{n}" for n in range(length // 8)]
    long_text = " ".join(words)
    assert len(long_text) >= length - 10
    mark = desk.fake.mark()
    told = await desk.say(user, long_text)
    assert told == []  # relayed: the bot stays silent
    posts = desk.staff_posts(mark)
    assert posts and all(p.params["message_thread_id"] == thread for p in posts)
    assert all(len(p.text) <= 4096 for p in posts)
    assert len(posts) >= -(-len(long_text) // 4096)
    shown = " ".join(p.text for p in posts)
    assert "{???}" not in shown
    assert " ".join(shown.split()).count(long_text) == 1  # every word, in order
    # Every part is the hand-off's: a reply to any of them reaches the citizen.
    async with desk.handoffs.sessions() as session:
        kept = await session.scalar(
            select(func.count())
            .select_from(HandoffMessage)
            .where(HandoffMessage.message_id.in_([p.result["message_id"] for p in posts]))
        )
    assert kept == len(posts)


# -- an agent's edit ---------------------------------------------------------------------------------
def edited(desk: Desk, message: dict[str, Any], text: str) -> dict[str, Any]:
    """The staff chat's edited_message update for `message` (as sent by agent_says)."""
    changed = {**message, "text": text, "edit_date": int(time.time())}
    desk.fake.messages[(STAFF_CHAT, message["message_id"])] = changed
    return {"update_id": new_id(), "edited_message": changed}


async def agent_message(desk: Desk, text: str, thread: int) -> dict[str, Any]:
    update = desk.staff_message(text, thread=thread)
    await desk.feed(update)
    return dict(update["message"])


async def test_an_agents_edit_reaches_the_citizen(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    user = new_id()
    thread = await hand_off(desk, user)
    mark = desk.fake.mark()
    message = await agent_message(desk, "Приходите в ЦОН №1 завтра", thread)
    [copy] = desk.fake.of("copyMessage", since=mark)
    copy_id = int(copy.result["message_id"])

    mark = desk.fake.mark()
    await desk.feed(edited(desk, message, "Приходите в ЦОН №2 завтра"))
    [edit] = desk.fake.of("editMessageText", since=mark)
    assert edit.chat_id == user and int(edit.params["message_id"]) == copy_id
    assert desk.fake.messages[(user, copy_id)]["text"] == "Приходите в ЦОН №2 завтра"
    assert desk.fake.of("sendMessage", chat_id=user, since=mark) == []

    # Edited again to the same text: nothing new for the citizen, no error.
    mark = desk.fake.mark()
    await desk.feed(edited(desk, message, "Приходите в ЦОН №2 завтра"))
    assert desk.fake.of("sendMessage", chat_id=user, since=mark) == []
    assert desk.staff_posts(mark) == []


async def test_an_edit_without_the_mapping_is_sent_as_a_correction(
    make_desk: Callable[..., Desk],
) -> None:
    """Another worker copied the message (or this one restarted): the new
    version goes as a new message, marked as a correction; a further edit
    edits that correction."""
    desk = make_desk()
    user = new_id()
    thread = await hand_off(desk, user)
    message = await agent_message(desk, "Срок — 10 дней", thread)
    other = make_desk()  # a fresh process: it never saw the copy
    mark = desk.fake.mark()
    await other.feed(edited(desk, message, "Срок — 15 рабочих дней"))
    [sent] = desk.fake.of("sendMessage", chat_id=user, since=mark)
    assert sent.text == T("ru", "ho-corrected") + "\n\n" + "Срок — 15 рабочих дней"
    mark = desk.fake.mark()
    await other.feed(edited(desk, message, "Срок — 15 календарных дней"))
    [edit] = desk.fake.of("editMessageText", since=mark)
    assert int(edit.params["message_id"]) == int(sent.result["message_id"])
    assert edit.params["text"] == T("ru", "ho-corrected") + "\n\n" + "Срок — 15 календарных дней"
    # A note for colleagues, edited, stays in the group.
    note = await agent_message(desk, "// проверю", thread)
    mark = desk.fake.mark()
    await desk.feed(edited(desk, note, "// проверил"))
    assert desk.fake.of("sendMessage", chat_id=user, since=mark) == []
    assert desk.fake.of("editMessageText", since=mark) == []


# -- /forget ---------------------------------------------------------------------------------------
class TopicCalls:
    """deleteForumTopic / closeForumTopic / deleteMessages, which the fake lacks."""

    def __init__(self, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch, *, may_delete: bool):
        self.deleted: list[int] = []
        self.closed: list[int] = []
        self.messages: list[int] = []

        async def delete_topic(token: str, params: dict[str, Any]) -> Any:
            if not may_delete:
                from tests.fakes.telegram_api import _ApiError

                raise _ApiError(400, "Bad Request: not enough rights to delete the topic")
            self.deleted.append(int(params["message_thread_id"]))
            return True

        async def close_topic(token: str, params: dict[str, Any]) -> Any:
            self.closed.append(int(params["message_thread_id"]))
            return True

        async def delete_messages(token: str, params: dict[str, Any]) -> Any:
            self.messages += [int(m) for m in params["message_ids"]]
            return True

        monkeypatch.setattr(fake, "_m_deleteForumTopic", delete_topic, raising=False)
        monkeypatch.setattr(fake, "_m_closeForumTopic", close_topic, raising=False)
        monkeypatch.setattr(fake, "_m_deleteMessages", delete_messages, raising=False)


async def staff_rows(desk: Desk, user: int) -> int:
    async with desk.handoffs.sessions() as session:
        handoffs = await session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.user_id == user)
        )
        topics = await session.scalar(
            select(func.count()).select_from(StaffTopic).where(StaffTopic.user_id == user)
        )
    return int(handoffs or 0) + int(topics or 0)


async def test_forget_deletes_the_citizens_topic(
    make_desk: Callable[..., Desk], fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = TopicCalls(fake, monkeypatch, may_delete=True)
    desk = make_desk()
    user = new_id()
    thread = await hand_off(desk, user)
    await desk.say(user, f"мой ИИН {IIN}")
    assert await staff_rows(desk, user) > 0
    await desk.say(user, "/forget")
    assert calls.deleted == [thread]
    assert calls.closed == []
    assert await staff_rows(desk, user) == 0
    # The agent's late answer reaches no one.
    mark = await desk.agent_says("Вы тут?", thread=thread)
    assert desk.fake.of("copyMessage", since=mark) == []


async def test_forget_closes_the_topic_when_it_may_not_be_deleted(
    make_desk: Callable[..., Desk], fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = TopicCalls(fake, monkeypatch, may_delete=False)
    desk = make_desk()
    user = new_id()
    thread = await hand_off(desk, user)
    mark = desk.fake.mark()
    await desk.say(user, "/forget")
    assert calls.closed == [thread]
    [note] = desk.staff_posts(mark)
    assert note.text == T("ru", "ho-staff-forgotten")
    assert note.params["message_thread_id"] == thread


async def test_forget_deletes_the_reply_thread_messages(
    make_desk: Callable[..., Desk], fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = TopicCalls(fake, monkeypatch, may_delete=True)
    desk = make_desk()
    desk.fake.fail_next(
        "createForumTopic", status=400, description="Bad Request: the chat is not a forum"
    )
    user = new_id()
    mark = desk.fake.mark()
    await desk.say(user, "соедините с оператором")
    await desk.say(user, "сколько стоит дубликат")
    posted = sorted(int(c.result["message_id"]) for c in desk.staff_posts(mark))
    assert len(posted) == 2  # the header and the relayed question
    await desk.say(user, "/forget")
    assert calls.deleted == [] and sorted(calls.messages) == posted
