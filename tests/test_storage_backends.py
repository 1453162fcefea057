"""One suite, every back end: conversation state on memory and real Redis,
the user's row on SQLite and real PostgreSQL (CI sets TEST_REDIS_URL and
TEST_DATABASE_URL; without them those parameters are skipped)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from actions.state import Conversation, MemoryStateStore, RedisStateStore, StateStore
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.users import SqlUserDirectory

REDIS_URL = os.environ.get("TEST_REDIS_URL")
DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore(ttl=60)
        return
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set")
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    yield RedisStateStore(redis, prefix=f"test-conv-{uuid.uuid4().hex[:8]}", ttl=60)
    await redis.aclose()


async def test_state_round_trip(store: StateStore) -> None:
    conv = Conversation(lang="kk", last_intent="ask_documents", last_service="duplicate")
    conv.flow, conv.flow_data = "bk", {"office": "ast-psc-1", "day": "2026-12-01"}
    await store.save(42, conv)
    loaded = await store.load(42)
    assert (loaded.lang, loaded.last_intent, loaded.last_service) == (
        "kk",
        "ask_documents",
        "duplicate",
    )
    assert loaded.flow == "bk" and loaded.flow_data == {"office": "ast-psc-1", "day": "2026-12-01"}
    assert (await store.load(43)).last_intent is None  # another citizen sees nothing
    await store.clear(42)
    assert (await store.load(42)).last_intent is None


async def test_state_expires() -> None:
    store = MemoryStateStore(ttl=0.05)
    await store.save(1, Conversation(lang="ru"))
    await asyncio.sleep(0.1)
    assert (await store.load(1)).lang is None


async def test_redis_state_has_a_ttl() -> None:
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set")
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    prefix = f"test-ttl-{uuid.uuid4().hex[:8]}"
    try:
        await RedisStateStore(redis, prefix=prefix, ttl=120).save(7, Conversation(lang="kk"))
        ttl = await redis.ttl(f"{prefix}:7")
        assert 0 < ttl <= 120
    finally:
        await redis.delete(f"{prefix}:7")
        await redis.aclose()


def test_corrupt_state_restarts_politely() -> None:
    assert Conversation.from_json(b"{not json").last_intent is None
    assert Conversation.from_json('{"lang": "kk", "unknown_field": 1}').lang == "kk"


@pytest.fixture(params=["sqlite", "postgresql"])
async def users(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlUserDirectory]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"
    else:
        if not DATABASE_URL:
            pytest.skip("TEST_DATABASE_URL not set")
        url = DATABASE_URL
    engine = make_engine(url)
    await create_schema(engine)
    yield SqlUserDirectory(make_sessionmaker(engine))
    if request.param == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM users WHERE id >= 900000000000"))
    await engine.dispose()


async def test_language_is_remembered_on_the_user_row(users: SqlUserDirectory) -> None:
    uid = 900000000000 + uuid.uuid4().int % 1_000_000
    assert await users.get_language(uid) is None
    await users.set_language(uid, "kk")
    await users.set_language(uid, "ru")
    assert await users.get_language(uid) == "ru"


async def test_concurrent_first_contact_makes_one_row(users: SqlUserDirectory) -> None:
    uid = 900000000000 + uuid.uuid4().int % 1_000_000
    await asyncio.gather(*(users.set_language(uid, "kk") for _ in range(10)))
    assert await users.get_language(uid) == "kk"
