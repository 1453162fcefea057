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
from bot.languages import RememberedLanguages
from bot.reminders import ReminderLoop
from bot.retention import RetentionJob
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.booking import BookingStore
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.redis import redis_client
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
        redis = redis_client(settings.redis_url)
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
            users=RememberedLanguages(SqlUserDirectory(sessions)),
            flows=[
                HandoffFlow(Handoffs(sessions), nlu),
                booking,
                ApplicationFlow(Applications(sessions, staff_chat_id=settings.staff_chat_id), nlu),
            ],
        )
        # Booking reminders go into the outbox, which only the Telegram bot delivers.
        reminders = ReminderLoop(sessions, assistant.t, booking.offices, assistant.calendar.tz)
        # Personal data past its retention period goes, once a day.
        retention = RetentionJob(sessions)
        if settings.bot_token is not None:
            reminders.start()
            retention.start()
        try:
            yield App(settings, assistant, nlu, sessions, redis)
        finally:
            await reminders.stop()
            await retention.stop()
    finally:
        await nlu.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
