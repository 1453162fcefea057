"""A hand-off nobody writes in goes back to the assistant: the citizen is
told once (through the outbox), the topic gets a note, an unfinished form
is offered again; a hand-off with recent messages stays open."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from actions.i18n import Translator
from bot.handoff_idle import IdleHandoffs
from bot.ratelimit import MemoryBuckets
from bot.sender import PacedSender
from storage.handoffs import Handoff
from storage.models import utcnow
from storage.outbox import OutboxMessage
from tests.handoff.conftest import STAFF_CHAT, Desk
from tests.handoff.test_handoff_keeps_draft import start_form
from tests.handoff.test_handoff_relay import hand_off
from tests.telegram.tg_support import new_id

T = Translator()


async def notices(desk: Desk, user: int) -> list[OutboxMessage]:
    async with desk.handoffs.sessions() as session:
        rows = await session.execute(select(OutboxMessage).where(OutboxMessage.chat_id == user))
        return list(rows.scalars())


async def test_idle_hand_offs_go_back_to_the_assistant(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(with_intake=True)
    quiet, busy = new_id(), new_id()
    await start_form(desk, quiet, "kk")
    _, thread = await hand_off(desk, quiet, "оператормен байланыстырыңыз", "kk")
    await hand_off(desk, busy, "соедините с оператором")

    job = IdleHandoffs(desk.assistant, desk.handoffs, desk.bot, idle_hours=24)
    assert await job.run_once() == 0  # nobody is idle yet

    # A day passes: both opened 25 hours ago; the busy citizen wrote an hour ago.
    await desk.say(busy, "я ещё здесь")
    async with desk.handoffs.sessions() as session, session.begin():
        day_ago = utcnow() - timedelta(hours=25)
        await session.execute(
            update(Handoff)
            .where(Handoff.user_id.in_([quiet, busy]))
            .values(opened_at=day_ago, last_citizen_at=day_ago)
        )
        await session.execute(
            update(Handoff)
            .where(Handoff.user_id == busy)
            .values(last_citizen_at=utcnow() - timedelta(hours=1))
        )
    mark = desk.fake.mark()
    assert await job.run_once() == 1
    assert await job.run_once() == 0  # closed once

    assert await desk.handoffs.open_of(quiet) is None
    assert await desk.handoffs.open_of(busy) is not None
    [queued] = await notices(desk, quiet)
    # The paced sender delivers it like any notification.
    sender = PacedSender(desk.bot, desk.handoffs.sessions, MemoryBuckets())
    await sender.pump()
    await sender.stop()
    [notice] = desk.fake.of("sendMessage", chat_id=quiet, since=mark)
    assert notice.text == queued.text
    assert T("kk", "ho-closed-idle", hours=24) in notice.text
    assert T("kk", "ho-draft-kept") in notice.text
    assert "app:resume" in notice.payloads
    assert desk.fake.of("sendMessage", chat_id=busy, since=mark) == []
    [note] = desk.fake.of("sendMessage", chat_id=STAFF_CHAT, since=mark)
    assert note.params["message_thread_id"] == thread
    assert note.text == T("ru", "ho-staff-closed-idle", hours=24)

    # The citizen's next message is the assistant's again, and the form is waiting.
    [resumed] = await desk.press(quiet, "app:resume", "kk")
    assert T("kk", "intake-ask-university") in resumed.text


async def test_a_kazakh_speaking_staff_chat(make_desk: Callable[..., Desk]) -> None:
    """STAFF_LANG=kk: the topic's header is in Kazakh, whatever the citizen speaks."""
    desk = make_desk(staff_lang="kk")
    user = new_id()
    mark = desk.fake.mark()
    await hand_off(desk, user, "соедините с оператором")
    [header] = [c for c in desk.staff_posts(mark) if c.chat_id == STAFF_CHAT]
    assert T("kk", "ho-lang-ru") in header.text
    assert T("kk", "ho-staff-reason-asked") in header.text
