"""Composition root: builds the assistant and what it needs, closes them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from actions.assistant import Assistant
from actions.state import MemoryStateStore, RedisStateStore, StateStore
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.pipeline import NLU
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.users import SqlUserDirectory


@dataclass
class App:
    settings: Settings
    assistant: Assistant
    nlu: NLU


@contextlib.asynccontextmanager
async def build_app(settings: Settings, *, start_nlu: bool = True) -> AsyncIterator[App]:
    engine = make_engine(settings.database_url)
    await create_schema(engine)
    sessions = make_sessionmaker(engine)
    redis = None
    states: StateStore
    if settings.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
        states = RedisStateStore(redis)
    else:
        states = MemoryStateStore()
    token = settings.nlu_token.get_secret_value() if settings.nlu_token else None
    nlu = await NLU.create(settings.nlu_url, token, start=start_nlu)
    try:
        assistant = Assistant(
            nlu,
            KnowledgeBase.load(),
            Calendar.load(),
            states=states,
            users=SqlUserDirectory(sessions),
        )
        yield App(settings, assistant, nlu)
    finally:
        await nlu.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
