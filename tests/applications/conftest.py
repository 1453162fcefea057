"""Fixtures for the application tests: databases (SQLite always, PostgreSQL
in a schema of its own when TEST_DATABASE_URL is set), the repository, and
an assistant with the application flow and a fixed clock."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from actions.assistant import Assistant
from actions.intake import ApplicationFlow
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.db import create_schema, make_engine, make_sessionmaker

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
ALMATY = ZoneInfo("Asia/Almaty")
# A Wednesday, 11:00 in Almaty: every office is open.
NOW = datetime(2026, 11, 25, 11, 0, tzinfo=ALMATY)
STAFF_CHAT = -100_000_000_000 - 4242


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def _postgres_engine() -> tuple[AsyncEngine, str]:
    """An engine whose tables live in a fresh schema, so runs sharing the
    server never see each other's rows."""
    assert TEST_DATABASE_URL is not None
    schema = f"apps_test_{secrets.token_hex(4)}"
    admin = create_async_engine(TEST_DATABASE_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    engine = create_async_engine(
        TEST_DATABASE_URL,
        connect_args={"server_settings": {"search_path": schema}},
        pool_size=10,
        max_overflow=20,
    )
    return engine, schema


async def _drop_schema(schema: str) -> None:
    assert TEST_DATABASE_URL is not None
    admin = create_async_engine(TEST_DATABASE_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'apps.db'}")
        schema = None
    elif TEST_DATABASE_URL:
        engine, schema = await _postgres_engine()
    else:
        pytest.skip("TEST_DATABASE_URL not set")
    await create_schema(engine)
    yield engine
    await engine.dispose()
    if schema is not None:
        await _drop_schema(schema)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """SQLite only: the dialogue tests are about the dialogue."""
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'apps.db'}")
    await create_schema(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
def applications(sessions: async_sessionmaker[AsyncSession]) -> Applications:
    return Applications(sessions, staff_chat_id=STAFF_CHAT)


@pytest.fixture
def make_assistant(
    light: LightModels, kb: KnowledgeBase, calendar: Calendar, clock: Clock
) -> Callable[[Applications], Assistant]:
    def make(applications: Applications) -> Assistant:
        nlu = NLU(client=None, light=light)
        return Assistant(nlu, kb, calendar, clock=clock, flows=[ApplicationFlow(applications, nlu)])

    return make


@pytest.fixture
def assistant(
    make_assistant: Callable[[Applications], Assistant], applications: Applications
) -> Assistant:
    return make_assistant(applications)
