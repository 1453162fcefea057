"""Fixtures for booking: the rules and offices, a fixed clock, and the
database on both back ends (SQLite file always; PostgreSQL when
TEST_DATABASE_URL is set, in a schema of its own that is dropped after the
test, so runs sharing the server never see each other's rows)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from actions.booking import BookingRules, Offices
from storage.db import create_schema, make_engine, make_sessionmaker

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
ALMATY = ZoneInfo("Asia/Almaty")
# Wednesday 9 December 2026, 11:00 in Almaty. Friday is the 11th, Sunday the
# 13th, 16 December is Independence Day; the horizon ends on the 23rd.
WEDNESDAY_11 = datetime(2026, 12, 9, 11, 0, tzinfo=ALMATY)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_11)


@pytest.fixture(scope="session")
def rules() -> BookingRules:
    return BookingRules.load()


@pytest.fixture(scope="session")
def offices() -> Offices:
    return Offices.load()


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a fresh database of each back end."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'booking.db'}")
        await create_schema(engine)
        yield make_sessionmaker(engine)
        await engine.dispose()
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set")
    schema = f"test_booking_{secrets.token_hex(4)}"
    admin = create_async_engine(TEST_DATABASE_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Enough connections for 50 concurrent citizens to be in flight at once.
    engine = create_async_engine(
        TEST_DATABASE_URL,
        connect_args={"server_settings": {"search_path": schema}},
        pool_size=10,
        max_overflow=45,
    )
    try:
        await create_schema(engine)
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'booking.db'}")
    await create_schema(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()
