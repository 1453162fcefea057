"""Composition root: builds the assistant and what it needs, closes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking import BookingFlow
from actions.handoff import HandoffFlow
from actions.intake import ApplicationFlow
from actions.state import (
    FallbackStateStore,
    MemoryStateStore,
    Outage,
    RedisStateStore,
    StateStore,
)
from bot.languages import RememberedLanguages
from bot.periodic import PeriodicJob, describe
from bot.reminders import ReminderLoop
from bot.retention import RetentionJob
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.cache import SharedParseCache
from nlu.embed import one_blas_thread
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.booking import BookingStore
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.redis import redis_client
from storage.users import SqlUserDirectory

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    assistant: Assistant
    nlu: NLU
    sessions: async_sessionmaker[AsyncSession] | None = None
    redis: Any = None  # redis.asyncio.Redis when REDIS_URL is set
    # Whether Redis answers: shared by everything that falls back to process
    # memory while it does not (the state store, claims, buckets, locks).
    redis_outage: Outage | None = None
    # The periodic jobs started here (each supervises its own loop).
    jobs: tuple[PeriodicJob, ...] = ()


@contextlib.asynccontextmanager
async def build_app(settings: Settings, *, start_nlu: bool = True) -> AsyncIterator[App]:
    engine = make_engine(settings.database_url)
    await create_schema(engine)
    sessions = make_sessionmaker(engine)
    redis = None
    outage: Outage | None = None
    states: StateStore
    if settings.redis_url:
        redis = redis_client(settings.redis_url)
        outage = Outage("Redis")
        # Questions need no shared state: process memory while Redis is away.
        states = FallbackStateStore(RedisStateStore(redis), outage)
    else:
        states = MemoryStateStore()
    token = settings.nlu_token.get_secret_value() if settings.nlu_token else None
    # A loaded machine starts Rasa slowly (measured up to 180 s): wait longer than that.
    nlu = await NLU.create(
        settings.nlu_url,
        token,
        start=start_nlu,
        start_timeout=600.0,
        slow_after=settings.nlu_slow_after,
    )
    if redis is not None:
        # Every worker's parses, for every worker (nlu/cache.py).
        nlu.shared = SharedParseCache(redis)
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
        one_blas_thread()
        # The answer units' index and the sentence encoder, loaded before the
        # first citizen writes (not on their message).
        await asyncio.to_thread(assistant.ranker.warm)
        # Booking reminders go into the outbox, which only the Telegram bot delivers.
        reminders = ReminderLoop(sessions, assistant.t, booking.offices, assistant.calendar.tz)
        # Personal data past its retention period goes, once a day.
        retention = RetentionJob(sessions)
        if settings.bot_token is not None:
            reminders.start()
            retention.start()
        try:
            yield App(settings, assistant, nlu, sessions, redis, outage, (reminders, retention))
        finally:
            for job in (reminders, retention):
                try:
                    await job.stop()
                except Exception as exc:
                    log.error("%s not stopped cleanly (%s)", job.name, describe(exc))
    finally:
        # Each closed even when another fails: a stop must end cleanly (exit 0).
        closing: list[tuple[str, Any]] = [("NLU", nlu.close)]
        if redis is not None:
            closing.append(("Redis client", redis.aclose))
        closing.append(("database engine", engine.dispose))
        for what, close in closing:
            try:
                await close()
            except Exception as exc:
                log.error("%s not closed cleanly (%s)", what, describe(exc))
