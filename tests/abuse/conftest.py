"""Fixtures for the abuse tests: the whole assistant (booking, applications,
hand-off) on a SQLite database of the test's own, with the degraded
classifier (no Rasa server), and a fixed clock: a Wednesday morning when
every office is open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking import BookingFlow
from actions.handoff import HandoffFlow
from actions.intake import ApplicationFlow
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import Applications
from storage.booking import BookingStore
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.users import SqlUserDirectory

ALMATY = ZoneInfo("Asia/Almaty")
# Wednesday 9 December 2026, 11:00 in Almaty.
NOW = datetime(2026, 12, 9, 11, 0, tzinfo=ALMATY)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'abuse.db'}")
    await create_schema(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


def full_assistant(
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock | None = None,
) -> Assistant:
    nlu = NLU(client=None, light=light)
    return Assistant(
        nlu,
        kb,
        calendar,
        users=SqlUserDirectory(sessions),
        clock=clock or Clock(NOW),
        flows=[
            HandoffFlow(Handoffs(sessions), nlu),
            BookingFlow(BookingStore(sessions), nlu=nlu),
            ApplicationFlow(Applications(sessions), nlu),
        ],
    )


@pytest.fixture
def assistant(
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> Assistant:
    return full_assistant(sessions, light, kb, calendar)
