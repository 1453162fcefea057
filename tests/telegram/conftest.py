"""Fixtures for the Telegram front end: the fake Bot API server, a
dispatcher wired to it (handler tests), back ends (memory / Redis, SQLite /
PostgreSQL). Helpers live in tg_support.py.

Back ends: memory and SQLite always; real Redis and PostgreSQL as well when
TEST_REDIS_URL / TEST_DATABASE_URL are set. Keys never collide between tests
(or with other suites sharing the server): every test bot has its own bot
id, which prefixes the bot's Redis keys, and every test citizen its own
user id.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncEngine

from actions.state import RedisStateStore
from bot.dispatcher import Shared, build_dispatcher
from bot.ratelimit import FloodPolicy
from bot.telegram import make_bot, make_shared
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from storage.db import create_schema, make_engine, make_sessionmaker
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import (
    FAST_RETRY,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    Harness,
    make_assistant,
    new_id,
)

# -- back ends --------------------------------------------------------------------
BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
async def redis_or_none(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """None (memory), or a client of TEST_REDIS_URL."""
    if request.param == "memory":
        yield None
        return
    if not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set")
    from redis.asyncio import Redis

    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    if not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set")
    from redis.asyncio import Redis

    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str | None]:
    """A database of our own on the TEST_DATABASE_URL server, dropped at the
    end: bot processes deliver every pending outbox row they find, so they
    must not share tables with other suites. None without TEST_DATABASE_URL."""
    if not TEST_DATABASE_URL:
        yield None
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(TEST_DATABASE_URL)
    name = f"tg_tests_{secrets.token_hex(4)}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield base.set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=DATABASES)
async def engine(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None
) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    elif postgres_url:
        url = postgres_url
    else:
        pytest.skip("TEST_DATABASE_URL not set")
    eng = make_engine(url)
    await create_schema(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await create_schema(eng)
    yield eng
    await eng.dispose()


# -- the fake Bot API ---------------------------------------------------------------
@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeTelegram]:
    """One server per test module; tests tell their calls apart by user id
    and by `fake.mark()`."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A bot of its own (id) per module, talking HTTP to the fake."""
    client = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
    yield client
    await client.session.close()


# -- a dispatcher in this process, talking HTTP to the fake ---------------------------------


@pytest.fixture
async def harness(
    fake: FakeTelegram,
    bot: Bot,
    sqlite_engine: AsyncEngine,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Harness:
    sessions = make_sessionmaker(sqlite_engine)
    assistant = make_assistant(light, kb, calendar, sessions)
    shared = Shared(flood=FloodPolicy(burst=5, rate=0.5, notice_every=60))
    dp = build_dispatcher(assistant, sessions, shared)
    return Harness(fake, bot, dp, assistant, sessions, shared)


@pytest.fixture
async def redis_harness(
    fake: FakeTelegram,
    bot: Bot,
    sqlite_engine: AsyncEngine,
    redis: Any,
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Harness:
    """The same, with everything shared kept in Redis (as several workers do)."""
    sessions = make_sessionmaker(sqlite_engine)
    prefix = f"test:{new_id()}:"  # this test's keys only
    states = RedisStateStore(redis, prefix=prefix + "conv")
    assistant = make_assistant(light, kb, calendar, sessions, states)
    shared = make_shared(redis, prefix=prefix)
    dp = build_dispatcher(assistant, sessions, shared)
    return Harness(fake, bot, dp, assistant, sessions, shared)


@pytest.fixture(scope="session")
def database_url_for(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None
) -> Iterator[Callable[[str], str]]:
    """The database of the bot process(es) called `name`: this session's
    PostgreSQL database (TEST_DATABASE_URL), or a SQLite file of that name."""
    directory = tmp_path_factory.mktemp("db")

    def url(name: str) -> str:
        if postgres_url:
            return postgres_url
        return f"sqlite+aiosqlite:///{directory / (name + '.db')}"

    yield url
