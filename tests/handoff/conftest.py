"""The hand-off against the fake Bot API server: a dispatcher in this
process (the real routers, filters and middlewares) whose bot talks HTTP to
tests/fakes/telegram_api.py, and a staff supergroup with forum topics."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.handoff import HandoffFlow
from actions.intake.flow import ApplicationFlow
from actions.state import MemoryStateStore
from bot.dispatcher import Shared, build_dispatcher
from bot.handlers.staff_relay import TelegramDesk, attach_desk
from bot.telegram import make_bot
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.users import SqlUserDirectory
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

STAFF_CHAT = -1001987654321
# A Monday afternoon and a Sunday afternoon in Astana.
IN_HOURS = datetime.fromisoformat("2025-03-03T15:00:00+05:00")
OUT_OF_HOURS = datetime.fromisoformat("2025-03-16T15:00:00+05:00")


@dataclass
class Desk:
    """The whole set-up of one test: citizens write, agents answer."""

    fake: FakeTelegram
    bot: Bot
    dp: Dispatcher
    assistant: Assistant
    flow: HandoffFlow
    handoffs: Handoffs
    desk: TelegramDesk | None
    now: list[datetime]
    agent: int = field(default_factory=new_id)
    _ids: Any = field(default_factory=lambda: itertools.count(5_000_000))

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dp.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )

    # -- the citizen ------------------------------------------------------------------------
    async def say(self, user: int, text: str, lang: str = "ru") -> list[Call]:
        mark = self.fake.mark()
        await self.feed(self.fake.text(user, text, lang=lang))
        return self.fake.of("sendMessage", chat_id=user, since=mark)

    async def press(self, user: int, data: str, lang: str = "ru") -> list[Call]:
        mark = self.fake.mark()
        await self.feed(self.fake.press(user, data, lang=lang))
        return self.fake.of("sendMessage", chat_id=user, since=mark)

    # -- the staff chat -----------------------------------------------------------------------
    def staff_message(
        self,
        text: str,
        *,
        author: int | None = None,
        thread: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An agent's message in the staff chat (in a topic, or a reply)."""
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": STAFF_CHAT, "type": "supergroup", "title": "1414", "is_forum": True},
            "from": self.fake.user(author or self.agent),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        # Stored like the bot's own, so that copyMessage copies its text.
        self.fake.messages[(STAFF_CHAT, message["message_id"])] = message
        return {"update_id": next(self._ids), "message": message}

    async def agent_says(self, text: str, **kw: Any) -> int:
        mark = self.fake.mark()
        await self.feed(self.staff_message(text, **kw))
        return mark

    async def agent_presses(self, call: Call, data: str, author: int | None = None) -> int:
        mark = self.fake.mark()
        await self.feed(self.fake.press(author or self.agent, data, call))
        return mark

    def staff_posts(self, since: int = 0) -> list[Call]:
        return self.fake.of("sendMessage", chat_id=STAFF_CHAT, since=since)


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
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await create_schema(eng)
    yield eng
    await eng.dispose()


def build_desk(
    fake: FakeTelegram,
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    *,
    staff_chat: int | None = STAFF_CHAT,
    now: datetime = IN_HOURS,
    with_intake: bool = False,
    staff_lang: str = "ru",
) -> Desk:
    nlu = NLU(client=None, light=light)  # the degraded classifier: no Rasa needed
    handoffs = Handoffs(sessions)
    flow = HandoffFlow(handoffs, nlu)
    clock = [now]
    assistant = Assistant(
        nlu,
        kb,
        calendar,
        states=MemoryStateStore(),
        users=SqlUserDirectory(sessions),
        clock=lambda: clock[0],
        flows=[flow, ApplicationFlow(Applications(sessions), nlu)] if with_intake else [flow],
    )
    dp = build_dispatcher(assistant, sessions, Shared())
    desk = attach_desk(assistant, bot, staff_chat, staff_lang)
    return Desk(fake, bot, dp, assistant, flow, handoffs, desk, clock)


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
        return build_desk(fake, bot, sessions, light, kb, calendar, **kw)

    return make


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk()
