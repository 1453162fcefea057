"""The agent console: its aiohttp application over a SQLite database, an
assistant with the degraded classifier (no Rasa needed), one staff account
and a few applications."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.handoff import HandoffFlow
from bot.console import mount_console
from bot.console.app import LoginThrottle
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.applications import ApplicantForm, Applications
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import Handoffs
from storage.staff import StaffDirectory

LOGIN = "aigerim"
PASSWORD = "correct horse 1414"  # noqa: S105 - a test account
FORM = ApplicantForm(
    university_head_name="Ректор",
    specialty="Информатика",
    university="Университет",
    graduation_year=2010,
    applicant_name="Тестов Тест",
    iin="900101300017",
    phone="+77010000000",
    reason="lost",
    requested="diploma",
)


@dataclass
class ConsoleWorld:
    sessions: async_sessionmaker[AsyncSession]
    assistant: Assistant
    applications: Applications
    numbers: list[str]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    await create_schema(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def world(
    engine: AsyncEngine, light: LightModels, kb: KnowledgeBase, calendar: Calendar
) -> ConsoleWorld:
    sessions = make_sessionmaker(engine)
    nlu = NLU(client=None, light=light)
    assistant = Assistant(nlu, kb, calendar, flows=[HandoffFlow(Handoffs(sessions), nlu)])
    await StaffDirectory(sessions).add(LOGIN, PASSWORD)
    applications = Applications(sessions, translator=assistant.t)
    numbers = []
    for n in range(2):
        app = await applications.create(
            FORM, user_id=1000 + n, lang="kk", channel="psc", due_date=date(2025, 4, 1)
        )
        numbers.append(app.number)
    return ConsoleWorld(sessions, assistant, applications, numbers)


def console_root(world: ConsoleWorld, throttle: LoginThrottle | None = None) -> web.Application:
    root = web.Application()
    mount_console(
        root, world.assistant, world.sessions, applications=world.applications, throttle=throttle
    )
    return root


@pytest.fixture
async def client(world: ConsoleWorld) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(console_root(world))) as c:
        yield c


_CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def log_in(
    client: TestClient[web.Request, web.Application],
    login: str = LOGIN,
    password: str = PASSWORD,
) -> tuple[int, str]:
    """Fill the login form; (status, page) after redirects."""
    page = await client.get("/console/login")
    token = _CSRF_INPUT.search(await page.text())
    assert token is not None
    resp = await client.post(
        "/console/login", data={"csrf": token.group(1), "login": login, "password": password}
    )
    return resp.status, await resp.text()


def csrf_of(page: str) -> str:
    found = _CSRF_META.search(page)
    assert found is not None
    return found.group(1)
