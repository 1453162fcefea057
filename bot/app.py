"""Composition root: builds the assistant and what it needs, closes them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking import BookingFlow
from actions.handoff import HandoffFlow
from actions.intake import ApplicationFlow
from actions.state import MemoryStateStore, RedisStateStore, StateStore
from bot.reminders import ReminderLoop
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.booking import BookingStore
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.users import SqlUserDirectory


@dataclass
class App:
    settings: Settings
    assistant: Assistant
    nlu: NLU
    sessions: async_sessionmaker[AsyncSession] | None = None
    redis: Any = None  # redis.asyncio.Redis when REDIS_URL is set


@contextlib.asynccontextmanager
async def build_app(settings: Settings, *, start_nlu: bool = True) -> AsyncIterator[App]:
    engine = make_engine(settings.database_url)
    await create_schema(engine)
    sessions = make_sessionmaker(engine)
    redis = None
    states: StateStore
    if settings.redis_url:
        from redis.asyncio import BlockingConnectionPool, Redis

        # A pool that waits for a free connection instead of failing: the
        # default one raises "Too many connections" past 100 at once.
        pool = BlockingConnectionPool.from_url(settings.redis_url, max_connections=64, timeout=20)
        redis = Redis(connection_pool=pool)
        states = RedisStateStore(redis)
    else:
        states = MemoryStateStore()
    token = settings.nlu_token.get_secret_value() if settings.nlu_token else None
    nlu = await NLU.create(settings.nlu_url, token, start=start_nlu)
    try:
        booking = BookingFlow(BookingStore(sessions), nlu=nlu)
        assistant = Assistant(
            nlu,
            KnowledgeBase.load(),
            Calendar.load(),
            states=states,
            users=SqlUserDirectory(sessions),
            flows=[
                HandoffFlow(Handoffs(sessions), nlu),
                booking,
                ApplicationFlow(Applications(sessions, staff_chat_id=settings.staff_chat_id), nlu),
            ],
        )
        # Booking reminders go into the outbox, which only the Telegram bot delivers.
        reminders = ReminderLoop(sessions, assistant.t, booking.offices, assistant.calendar.tz)
        if settings.bot_token is not None:
            reminders.start()
        try:
            yield App(settings, assistant, nlu, sessions, redis)
        finally:
            await reminders.stop()
    finally:
        await nlu.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
