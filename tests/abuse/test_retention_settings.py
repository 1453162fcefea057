"""Retention periods are settings: the daily job purges by them (stale open
applications and idle citizens' rows too), and /privacy lists them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Update
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.i18n import Translator
from bot.dispatcher import build_dispatcher
from bot.handlers.privacy import privacy_text
from bot.retention import RetentionJob, periods_of, retention_periods
from bot.settings import Settings
from bot.telegram import make_bot
from storage.applications import Application, Applications
from storage.models import User, utcnow
from storage.retention import RetentionPeriods, purge_expired
from storage.users import SqlUserDirectory
from tests.abuse.test_retention import NOW, db, form  # noqa: F401 - the db fixture
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id

T = Translator()
ENV = {
    "RETENTION_APPLICATION_DAYS": "200",
    "RETENTION_OPEN_APPLICATION_DAYS": "300",
    "RETENTION_HANDOFF_DAYS": "7",
    "RETENTION_OUTBOX_DAYS": "14",
    "RETENTION_BOOKING_DAYS": "21",
    "RETENTION_USER_DAYS": "180",
}


def test_the_defaults_are_the_former_periods() -> None:
    periods = periods_of(Settings(_env_file=None))  # type: ignore[call-arg]
    assert periods == RetentionPeriods()
    assert (periods.days, periods.handoff_days, periods.outbox_days, periods.booking_days) == (
        365,
        30,
        30,
        90,
    )


def test_the_periods_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert periods_of(Settings(_env_file=None)) == RetentionPeriods(  # type: ignore[call-arg]
        days=200, open_days=300, handoff_days=7, outbox_days=14, booking_days=21, user_days=180
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Open applications untouched for 800 and 400 days; citizens' rows last
    used 400 and 10 days ago."""
    apps = Applications(sessions)
    numbers = {}
    for n, (name, age) in enumerate((("stale", 800), ("open", 400))):
        app = await apps.create(
            form(n), user_id=7000 + n, lang="ru", channel="psc", due_date=NOW.date()
        )
        async with sessions() as session, session.begin():
            await session.execute(
                update(Application)
                .where(Application.id == app.id)
                .values(updated_at=NOW - timedelta(days=age))
            )
        numbers[name] = app.number
    async with sessions() as session, session.begin():
        for user, age in ((8001, 400), (8002, 10)):
            seen = NOW - timedelta(days=age)
            session.add(User(id=user, language="kk", created_at=seen, updated_at=seen))
    return numbers


async def forgotten(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Application.number).where(Application.forgotten_at.is_not(None))
        )
        return set(rows)


async def users(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        return sorted(await session.scalars(select(User.id)))


async def test_stale_open_applications_and_idle_citizens_go(
    db: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    numbers = await seed(db)
    removed = await purge_expired(db, NOW)  # the defaults: 730 days open, 365 idle
    assert removed["open_applications"] == 1 and removed["users"] == 1
    assert await forgotten(db) == {numbers["stale"]}
    assert await users(db) == [8002]
    async with db() as session:
        stale = (
            await session.scalars(select(Application).where(Application.number == numbers["stale"]))
        ).one()
    assert (stale.applicant_name, stale.iin, stale.phone, stale.user_id) == (None, None, None, None)
    assert stale.status == "received"  # the record stays for the staff


async def test_the_job_purges_by_the_settings(
    db: async_sessionmaker[AsyncSession],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    numbers = await seed(db)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    job = RetentionJob(
        db,
        periods_of(Settings(_env_file=None)),  # type: ignore[call-arg]
        clock=lambda: NOW,
        first_delay=0.0,
        interval=60.0,
    )
    job.start()
    for _ in range(200):
        if job.passes >= 1:
            break
        await asyncio.sleep(0.02)
    await job.stop()
    assert job.passes >= 1
    assert await forgotten(db) == {numbers["stale"], numbers["open"]}  # 300 days
    assert await users(db) == [8002]  # 180 days


async def test_a_citizen_who_writes_is_not_idle(
    db: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    """Reading the language (every message) marks the row used, once a day."""
    await seed(db)
    directory = SqlUserDirectory(db)
    assert await directory.get_language(8001) == "kk"
    async with db() as session:
        seen = (await session.get(User, 8001)).updated_at  # type: ignore[union-attr]
    assert seen is not None
    assert abs((seen.replace(tzinfo=None) - utcnow().replace(tzinfo=None)).total_seconds()) < 60
    removed = await purge_expired(db, utcnow())
    assert removed["users"] == 0


# -- /privacy ---------------------------------------------------------------------------------
def test_privacy_lists_the_periods() -> None:
    periods = RetentionPeriods(
        days=200, open_days=300, handoff_days=7, outbox_days=14, booking_days=21, user_days=180
    )
    for lang in ("ru", "kk"):
        text = privacy_text(T, lang, periods)
        for days in ("200", "300", " 7 ", "14", "21", "180"):
            assert days in text, (lang, days)
        assert "{" not in text and "365" not in text
    assert "21 день" in privacy_text(T, "ru", periods)
    assert "7 дней" in privacy_text(T, "ru", periods)


@pytest.fixture
async def telegram(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[FakeTelegram, Bot, Any]]:
    async with FakeTelegram() as fake:
        bot = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
        try:
            yield fake, bot, build_dispatcher(assistant, sessions)
        finally:
            await bot.session.close()


async def test_privacy_command_answers_with_the_configured_periods(
    telegram: tuple[FakeTelegram, Bot, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, bot, dp = telegram
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    retention_periods.cache_clear()
    try:
        user = new_id()
        mark = fake.mark()
        update = fake.text(user, "/privacy", lang="ru")
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
        [answer] = fake.of("sendMessage", chat_id=user, since=mark)
        assert answer.text == privacy_text(T, "ru", retention_periods())
        assert "180 дней" in answer.text and "300 дней" in answer.text
    finally:
        retention_periods.cache_clear()
