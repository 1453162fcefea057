"""Retention: personal data past its period is removed, nothing else is;
on SQLite and PostgreSQL; and the daily job runs it while the bot runs."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bot.retention import RetentionJob
from storage import outbox
from storage.applications import (
    ApplicantForm,
    Application,
    ApplicationEvent,
    ApplicationHandoff,
    Applications,
)
from storage.booking import Booking, BookingReminder
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.handoffs import CLOSED, OPEN, Handoff, HandoffMessage, StaffTopic
from storage.retention import purge_expired
from tests.applications.support import make_iin

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}")
        await create_schema(engine)
        yield make_sessionmaker(engine)
        await engine.dispose()
        return
    if not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set")
    schema = f"test_retention_{secrets.token_hex(4)}"
    admin = create_async_engine(TEST_DATABASE_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(
        TEST_DATABASE_URL, connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        await create_schema(engine)
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def form(n: int) -> ApplicantForm:
    return ApplicantForm(
        university_head_name="Иванов Иван Иванович",
        specialty="Информационные системы",
        university="ЕНУ",
        graduation_year=2012,
        applicant_name=f"Ахметова Айгерим {n}",
        iin=make_iin(date(1990, 1, n + 1)),
        phone="+7701234567" + str(n),
        reason="lost",
        requested="diploma_with_appendix",
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Applications: issued 400 days ago, rejected 400 days ago, issued 100
    days ago, still in review 400 days ago. Hand-offs closed 40 and 10 days
    ago, and one open since 40 days. Outbox rows 40 days old (sent, pending)
    and 10 days old (sent)."""
    apps = Applications(sessions)
    numbers: dict[str, str] = {}
    for n, (name, path, age) in enumerate(
        [
            ("old_issued", ["in_review", "ready", "issued"], 400),
            ("old_rejected", ["rejected"], 400),
            ("recent_issued", ["in_review", "ready", "issued"], 100),
            ("old_open", ["in_review"], 400),
        ]
    ):
        app = await apps.create(
            form(n), user_id=1000 + n, lang="ru", channel="psc", due_date=date(2026, 1, 1)
        )
        for status in path:
            await apps.change_status(
                app.number, status, place="ЦОН №1", reason="нет документов", actor="staff:1"
            )
        async with sessions() as session, session.begin():
            await session.execute(
                update(Application)
                .where(Application.id == app.id)
                .values(updated_at=NOW - timedelta(days=age))
            )
        numbers[name] = app.number
    async with sessions() as session, session.begin():
        for user, status, closed_days in ((1, CLOSED, 40), (2, CLOSED, 10), (3, OPEN, None)):
            row = Handoff(
                user_id=2000 + user,
                lang="ru",
                status=status,
                reason="asked",
                opened_at=NOW - timedelta(days=41),
                closed_at=None if closed_days is None else NOW - timedelta(days=closed_days),
            )
            session.add(row)
            await session.flush()
            session.add(HandoffMessage(staff_chat_id=-100, message_id=user, handoff_id=row.id))
        for key, status, age in (
            ("a", outbox.SENT, 40),
            ("b", outbox.PENDING, 40),
            ("c", outbox.SENT, 10),
        ):
            row_id = await outbox.enqueue(session, 3000, f"Ахметова Айгерим: {key}", key=key)
            await session.execute(
                update(outbox.OutboxMessage)
                .where(outbox.OutboxMessage.id == row_id)
                .values(status=status, created_at=NOW - timedelta(days=age))
            )
        # Staff topics: 2001's last hand-off goes (40 days), 2002's stays, 2009 is new.
        for user, age in ((2001, 41), (2002, 41), (2009, 5)):
            session.add(
                StaffTopic(
                    staff_chat_id=-100,
                    user_id=user,
                    thread_id=user,
                    created_at=NOW - timedelta(days=age),
                )
            )
        # Bookings: one 100 days ago (with its reminder), one 10 days ago.
        for n, age in ((1, 100), (2, 10)):
            booking = Booking(
                code=f"OLD{n}",
                user_id=4000 + n,
                service="duplicate",
                office_id="ast-psc1",
                starts_at=NOW - timedelta(days=age),
                window_no=1,
                status="done",
                lang="ru",
            )
            session.add(booking)
            await session.flush()
            session.add(
                BookingReminder(
                    booking_id=booking.id,
                    minutes_before=60,
                    due_at=booking.starts_at - timedelta(hours=1),
                )
            )
    return numbers


async def test_purge_removes_what_is_past_its_period_and_nothing_else(
    db: async_sessionmaker[AsyncSession],
) -> None:
    numbers = await seed(db)
    removed = await purge_expired(db, NOW, days=365)
    assert removed == {
        "applications": 2,
        "open_applications": 0,  # the one in review 400 days: within its 730
        "handoffs": 1,
        "handoff_messages": 1,
        "staff_topics": 1,
        "bookings": 1,
        "outbox": 1,
        "users": 0,
    }

    async with db() as session:
        apps = {a.number: a for a in (await session.scalars(select(Application))).all()}
        for name in ("old_issued", "old_rejected"):
            app = apps[numbers[name]]
            assert app.forgotten_at is not None and app.user_id is None
            assert (app.applicant_name, app.iin, app.phone, app.iin_hash) == (
                None,
                None,
                None,
                None,
            )
            assert app.status in ("issued", "rejected")  # statistics stay
        for name in ("recent_issued", "old_open"):
            app = apps[numbers[name]]
            assert app.forgotten_at is None and app.iin is not None and app.applicant_name
        notes = {
            h.application_id: h.note for h in (await session.scalars(select(ApplicationHandoff)))
        }
        assert notes[apps[numbers["old_issued"]].id] == ""
        assert "Ахметова" in notes[apps[numbers["recent_issued"]].id]
        actors = {
            e.actor
            for e in await session.scalars(
                select(ApplicationEvent).where(
                    ApplicationEvent.application_id == apps[numbers["old_issued"]].id
                )
            )
        }
        assert not any(a.startswith("citizen:") for a in actors)
        handoffs = sorted(h.user_id for h in await session.scalars(select(Handoff)))
        assert handoffs == [2002, 2003]
        kept = sorted(m.message_id for m in await session.scalars(select(HandoffMessage)))
        assert kept == [2, 3]
        topics = sorted(t.user_id for t in await session.scalars(select(StaffTopic)))
        assert topics == [2002, 2009]
        assert [b.code for b in await session.scalars(select(Booking))] == ["OLD2"]
        reminders = (await session.scalars(select(BookingReminder))).all()
        assert len(reminders) == 1
        keys = [r.dedupe_key or "" for r in await session.scalars(select(outbox.OutboxMessage))]
        # (the status notices of the seeded applications are pending: kept)
        assert sorted(k for k in keys if not k.startswith("app:")) == ["b", "c"]

    # A second pass finds nothing more; a shorter period takes the recent ones too.
    assert set((await purge_expired(db, NOW, days=365)).values()) == {0}
    again = await purge_expired(db, NOW, days=30, handoff_days=5, outbox_days=5, booking_days=5)
    assert again == {
        "applications": 1,
        "open_applications": 0,
        "handoffs": 1,
        "handoff_messages": 1,
        "staff_topics": 1,  # 2002's, with its hand-off; 2009's topic is only 5 days old
        "bookings": 1,
        "outbox": 1,
        "users": 0,
    }


async def test_the_daily_job_runs_and_stops(db: async_sessionmaker[AsyncSession]) -> None:
    await seed(db)
    job = RetentionJob(db, clock=lambda: NOW, first_delay=0.0, interval=0.05)
    job.start()
    for _ in range(100):
        if job.passes >= 2:
            break
        await asyncio.sleep(0.02)
    await job.stop()
    assert job.passes >= 2
    async with db() as session:
        forgotten = await session.scalars(
            select(Application.number).where(Application.forgotten_at.is_not(None))
        )
        assert len(forgotten.all()) == 2
