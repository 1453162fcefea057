"""Hand-off records on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import BY_CITIZEN, Handoffs, delete_for_user
from tests.telegram.tg_support import new_id

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
CHAT = -1001234567890


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    elif TEST_DATABASE_URL:
        url = TEST_DATABASE_URL
    else:
        pytest.skip("TEST_DATABASE_URL not set")
    engine = make_engine(url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


async def test_one_open_hand_off_per_citizen_even_when_asked_at_once(db: AsyncEngine) -> None:
    handoffs = Handoffs(make_sessionmaker(db))
    user = new_id()
    made = await asyncio.gather(*(handoffs.create(user, "kk", "asked") for _ in range(5)))
    assert len([h for h in made if h is not None]) == 1
    opened = await handoffs.open_of(user)
    assert opened is not None and opened.lang == "kk"
    # Closing is once: the second close changes nothing.
    assert await handoffs.close(opened.id, BY_CITIZEN)
    assert not await handoffs.close(opened.id, BY_CITIZEN)
    assert await handoffs.open_of(user) is None
    # Then a new one may open.
    assert await handoffs.create(user, "ru", "not_understood", "nlu_fallback", 0.1) is not None


async def test_topic_and_messages_lead_to_the_citizen(db: AsyncEngine) -> None:
    sessions = make_sessionmaker(db)
    handoffs = Handoffs(sessions)
    alice, bob = new_id(), new_id()
    a = await handoffs.create(alice, "ru", "asked")
    b = await handoffs.create(bob, "kk", "asked")
    assert a is not None and b is not None
    thread = new_id()
    await handoffs.placed(a.id, CHAT, thread, header_message_id=new_id())
    header_b = new_id()
    await handoffs.placed(b.id, CHAT, None, header_message_id=header_b)
    relayed_b = new_id()
    await handoffs.relayed(b.id, CHAT, relayed_b)

    assert await handoffs.topic_of(CHAT, alice) == thread
    user, open_a = await handoffs.in_topic(CHAT, thread)
    assert user == alice and open_a is not None and open_a.id == a.id
    assert await handoffs.in_topic(CHAT, new_id()) == (None, None)
    user, open_b = await handoffs.at_message(CHAT, relayed_b)
    assert user == bob and open_b is not None and open_b.id == b.id
    assert (await handoffs.at_message(CHAT, header_b))[0] == bob

    # After Bob's hand-off is closed and a new one opened, his old messages
    # lead to the new one.
    await handoffs.close(b.id, BY_CITIZEN)
    assert await handoffs.at_message(CHAT, relayed_b) == (bob, None)
    b2 = await handoffs.create(bob, "kk", "asked")
    assert b2 is not None
    assert (await handoffs.at_message(CHAT, relayed_b))[1] == b2

    # /forget: nothing of Bob's is left, Alice's is untouched.
    async with sessions() as session, session.begin():
        assert await delete_for_user(session, bob) == 2
    assert await handoffs.at_message(CHAT, relayed_b) == (None, None)
    assert (await handoffs.in_topic(CHAT, thread))[0] == alice
