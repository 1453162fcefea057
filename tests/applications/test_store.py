"""The applications repository on SQLite and PostgreSQL: numbers under
concurrency, the status graph, notifications written once, lookups by
strangers, and forgetting a citizen."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import outbox
from storage.applications import (
    ApplicantForm,
    Application,
    ApplicationNotFound,
    Applications,
    InvalidTransition,
)
from storage.db import make_sessionmaker
from storage.outbox import OutboxMessage
from tests.applications.conftest import NOW, STAFF_CHAT
from tests.applications.support import make_iin

DUE = date(2026, 12, 24)


def form(n: int = 0, iin: str | None = None) -> ApplicantForm:
    return ApplicantForm(
        university_head_name="Сыдыков Ерлан Батташевич",
        specialty="Математика",
        university="ЕНУ им. Л. Н. Гумилёва",
        graduation_year=2010,
        applicant_name=f"Заявитель Номер {n}",
        iin=iin or make_iin(date(1988, 1, 1 + n % 28), serial=1000 + n),
        phone="+77010000000",
        reason="lost",
        requested="diploma",
    )


def repo(engine: AsyncEngine) -> Applications:
    return Applications(make_sessionmaker(engine), staff_chat_id=STAFF_CHAT)


async def create(
    apps: Applications, user_id: int, n: int = 0, *, lang: str = "ru", token: str | None = None
) -> Application:
    return await apps.create(
        form(n), user_id=user_id, lang=lang, channel="psc", due_date=DUE, now=NOW, token=token
    )


async def outbox_rows(engine: AsyncEngine, chat_id: int) -> list[OutboxMessage]:
    async with make_sessionmaker(engine)() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        )
        return list(rows)


@pytest.mark.slow
async def test_thirty_concurrent_creates_get_thirty_numbers(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    created = await asyncio.gather(*(create(apps, 9000 + i, i) for i in range(30)))
    numbers = sorted(a.number for a in created)
    assert len(set(numbers)) == 30
    assert numbers == [f"DUP-2026-{i:05d}" for i in range(1, 31)]
    # The next year starts again at 1.
    nxt = await apps.create(
        form(99),
        user_id=1,
        lang="kk",
        channel="provider",
        due_date=DUE,
        now=NOW + timedelta(days=60),
    )
    assert nxt.number == "DUP-2027-00001"


async def test_confirming_one_form_twice_makes_one_application(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    first, second = await asyncio.gather(
        create(apps, 7001, token="form-token-1"), create(apps, 7001, token="form-token-1")
    )
    assert first.number == second.number
    assert len(await apps.for_user(7001)) == 1
    # and its staff notice once
    assert len(await outbox_rows(any_engine, STAFF_CHAT)) == 1


async def test_status_graph_and_one_notification_per_change(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    app = await create(apps, 7100, lang="kk")
    n = app.number

    with pytest.raises(InvalidTransition) as refused:
        await apps.change_status(n, "ready", place="ЕНУ, 1-кабинет", actor="staff:1")
    assert refused.value.code == "not-allowed" and refused.value.allowed == [
        "in_review",
        "rejected",
    ]
    with pytest.raises(InvalidTransition) as refused:
        await apps.change_status(n, "lost", actor="staff:1")
    assert refused.value.code == "unknown-status"
    with pytest.raises(ApplicationNotFound):
        await apps.change_status("DUP-2026-99999", "in_review", actor="staff:1")

    assert (await apps.change_status(n, "in_review", actor="staff:1")).status == "in_review"
    with pytest.raises(InvalidTransition) as refused:
        await apps.change_status(n, "in_review", actor="staff:2")  # again
    assert refused.value.code == "not-allowed"
    with pytest.raises(InvalidTransition) as refused:
        await apps.change_status(n, "ready", actor="staff:1")
    assert refused.value.code == "place-required"
    ready = await apps.change_status(
        n, "ready", place="ЕНУ, 1-корпус, 105 кабинет", actor="staff:1"
    )
    assert ready.pickup_place == "ЕНУ, 1-корпус, 105 кабинет"
    with pytest.raises(InvalidTransition):
        await apps.change_status(n, "rejected", reason="қате", actor="staff:1")
    await apps.change_status(n, "issued", actor="staff:1")
    with pytest.raises(InvalidTransition) as refused:
        await apps.change_status(n, "received", actor="staff:1")
    assert refused.value.allowed == []

    rows = await outbox_rows(any_engine, 7100)
    assert [r.dedupe_key for r in rows] == [
        f"app:{n}:in_review",
        f"app:{n}:ready",
        f"app:{n}:issued",
    ]
    assert "қаралуда" not in rows[0].text and "жұмысқа алынды" in rows[0].text  # Kazakh
    assert "ЕНУ, 1-корпус, 105 кабинет" in rows[1].text
    assert rows[0].buttons == [[{"text": "Өтініш мәртебесі", "payload": "app:status"}]]
    history = await apps.history(n)
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "received"),
        ("received", "in_review"),
        ("in_review", "ready"),
        ("ready", "issued"),
    ]
    # Enqueueing the same change again (a retried request) adds nothing.
    async with make_sessionmaker(any_engine)() as session, session.begin():
        assert await outbox.enqueue(session, 7100, "again", key=f"app:{n}:ready") is None
    assert len(await outbox_rows(any_engine, 7100)) == 3


async def test_rejection_needs_a_reason_and_says_it(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    app = await create(apps, 7200)
    with pytest.raises(InvalidTransition) as refused:
        await apps.change_status(app.number, "rejected", actor="staff:1")
    assert refused.value.code == "reason-required"
    await apps.change_status(app.number, "rejected", reason="неполный пакет", actor="staff:1")
    [row] = await outbox_rows(any_engine, 7200)
    assert "отказано" in row.text and "неполный пакет" in row.text


async def test_two_staff_changing_at_once_one_wins(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    app = await create(apps, 7300)
    # The same move twice (two agents, or one double click): whichever runs
    # second finds the application moved on, however the two interleave. (A
    # pair such as in_review and rejected would both be valid one after the
    # other, so only their timing would decide.)
    results = await asyncio.gather(
        apps.change_status(app.number, "rejected", reason="дубль", actor="staff:1"),
        apps.change_status(app.number, "rejected", reason="неполный пакет", actor="staff:2"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Application) for r in results) == 1
    assert sum(isinstance(r, InvalidTransition) for r in results) == 1
    [row] = await outbox_rows(any_engine, 7300)
    [winner] = [r for r in results if isinstance(r, Application)]
    assert winner.reject_reason is not None and winner.reject_reason in row.text


async def test_lookup_by_number_needs_owner_or_iin(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    iin = make_iin(date(1991, 5, 5))
    app = await apps.create(
        form(1, iin), user_id=7400, lang="ru", channel="psc", due_date=DUE, now=NOW
    )
    assert await apps.lookup(app.number, user_id=7400) is not None
    assert await apps.lookup(app.number, user_id=7401) is None
    assert await apps.lookup(app.number, user_id=7401, iin=make_iin(date(1991, 5, 6))) is None
    found = await apps.lookup(app.number.lower(), user_id=7401, iin=iin)
    assert found is not None and found.number == app.number
    assert await apps.lookup("DUP-2026-09999", user_id=7401, iin=iin) is None
    stored = await apps.get(app.number)
    assert stored is not None and stored.iin_hash and iin not in stored.iin_hash


async def test_forget_user_blanks_personal_data(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    iin = make_iin(date(1993, 9, 9))

    async def pdf(app: Application) -> bytes:
        return b"%PDF-1.4 fake"

    app = await apps.create(
        form(2, iin), user_id=7500, lang="ru", channel="psc", due_date=DUE, now=NOW, document=pdf
    )
    other = await create(apps, 7501, 3)
    assert await apps.pdf(app.number) == b"%PDF-1.4 fake"
    assert await apps.forget_user(7500) == 1
    assert await apps.forget_user(7500) == 0

    gone = await apps.get(app.number)
    assert gone is not None
    assert (gone.number, gone.status, gone.due_date) == (app.number, "received", DUE)
    personal = (
        gone.user_id,
        gone.applicant_name,
        gone.iin,
        gone.phone,
        gone.iin_hash,
        gone.university_head_name,
        gone.specialty,
        gone.university,
        gone.graduation_year,
    )
    assert personal == (None,) * len(personal)
    assert gone.forgotten_at is not None
    assert await apps.pdf(app.number) is None
    assert await apps.lookup(app.number, user_id=7500) is None
    assert await apps.lookup(app.number, user_id=7502, iin=iin) is None
    handoff = await apps.handoff(app.number)
    assert handoff is not None and handoff.note == ""
    # Staff may still move it on; nobody is notified.
    await apps.change_status(app.number, "rejected", reason="—", actor="staff:1")
    assert await outbox_rows(any_engine, 7500) == []
    # Someone else's application is untouched.
    kept = await apps.get(other.number)
    assert kept is not None and kept.applicant_name == "Заявитель Номер 3"


async def test_list_and_for_user(any_engine: AsyncEngine) -> None:
    apps = repo(any_engine)
    a = await create(apps, 7600, 1)
    b = await create(apps, 7600, 2)
    await create(apps, 7601, 3)
    await apps.change_status(b.number, "in_review", actor="staff:1")
    assert [x.number for x in await apps.for_user(7600)] == [b.number, a.number]
    assert [x.number for x in await apps.list("in_review")] == [b.number]
    assert len(await apps.list(limit=2)) == 2
    assert len(await apps.list()) == 3
