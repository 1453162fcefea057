"""The database keeps bookings correct under concurrency, on SQLite and on
PostgreSQL (TEST_DATABASE_URL): no window booked twice, one booking per
double "confirm", cancelling frees the window, one active booking per
citizen and service, a reschedule is all or nothing."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.booking import (
    ACTIVE,
    DONE,
    REMINDER_CANCELLED,
    REMINDER_PENDING,
    RESCHEDULED,
    AlreadyBooked,
    Booked,
    Booking,
    BookingReminder,
    BookingStore,
    NotFound,
    SlotFull,
    delete_for_user,
    insert_or_nothing,
)
from tests.booking.conftest import ALMATY

NOW = datetime(2026, 12, 9, 11, 0, tzinfo=ALMATY)
SLOT = datetime(2026, 12, 14, 10, 0, tzinfo=ALMATY)
REMINDERS = (timedelta(days=1), timedelta(hours=1))
_users = itertools.count(7_000_000)
_keys = itertools.count(1)


def user() -> int:
    return next(_users)


async def book(
    store: BookingStore,
    user_id: int,
    starts_at: datetime = SLOT,
    *,
    windows: int = 3,
    office: str = "ast-psc1",
    key: str | None = None,
    replaces: str | None = None,
    now: datetime = NOW,
) -> Booked:
    return await store.book(
        user_id=user_id,
        service="duplicate",
        office_id=office,
        windows=windows,
        starts_at=starts_at,
        lang="kk",
        key=key or f"{user_id}:{next(_keys)}",
        reminders=REMINDERS,
        now=now,
        replaces=replaces,
    )


async def active_at(
    sessions: async_sessionmaker[AsyncSession], starts_at: datetime, office: str = "ast-psc1"
) -> list[Booking]:
    async with sessions() as session:
        rows = await session.execute(
            select(Booking).where(
                Booking.office_id == office,
                Booking.starts_at == starts_at,
                Booking.status == ACTIVE,
            )
        )
        return list(rows.scalars())


async def test_fifty_citizens_race_for_the_last_window(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    await book(store, user())
    await book(store, user())  # two of three windows taken

    results = await asyncio.gather(
        *(book(store, user()) for _ in range(50)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, Booked)]
    assert len(won) == 1, [type(r).__name__ for r in results if not isinstance(r, Booked)]
    assert all(isinstance(r, SlotFull) for r in results if not isinstance(r, Booked))
    rows = await active_at(sessions, SLOT)
    assert sorted(b.window_no for b in rows) == [1, 2, 3]


async def test_fifty_citizens_fill_an_empty_slot_exactly(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    results = await asyncio.gather(
        *(book(store, user(), windows=4) for _ in range(50)), return_exceptions=True
    )
    assert sum(isinstance(r, Booked) for r in results) == 4
    assert sum(isinstance(r, SlotFull) for r in results) == 46
    assert sorted(b.window_no for b in await active_at(sessions, SLOT)) == [1, 2, 3, 4]


async def test_a_double_confirm_makes_one_booking(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    citizen = user()
    key = f"{citizen}:cafe0001"
    first, second = await asyncio.gather(
        book(store, citizen, key=key), book(store, citizen, key=key)
    )
    assert first.booking.code == second.booking.code
    assert sorted([first.created, second.created]) == [False, True]
    again = await book(store, citizen, key=key)  # a third press, much later
    assert again.booking.code == first.booking.code and not again.created
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Booking).where(Booking.user_id == citizen)
        )
        reminders = await session.scalar(
            select(func.count())
            .select_from(BookingReminder)
            .where(BookingReminder.booking_id == first.booking.id)
        )
    assert count == 1 and reminders == 2


async def test_cancelling_frees_the_window(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = BookingStore(sessions)
    first, second = user(), user()
    made = await book(store, first, windows=1)
    with pytest.raises(SlotFull):
        await book(store, second, windows=1)
    cancelled = await store.cancel(first, made.booking.code, NOW)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert await store.cancel(first, made.booking.code, NOW) is None  # once
    assert await store.cancel(second, made.booking.code, NOW) is None  # not theirs
    taken = await book(store, second, windows=1)
    assert taken.booking.window_no == 1
    async with sessions() as session:
        statuses = set(
            (
                await session.execute(
                    select(BookingReminder.status).where(
                        BookingReminder.booking_id == made.booking.id
                    )
                )
            ).scalars()
        )
    assert statuses == {REMINDER_CANCELLED}


async def test_one_active_booking_per_citizen_and_service(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    citizen = user()
    made = await book(store, citizen)
    with pytest.raises(AlreadyBooked) as refused:
        await book(store, citizen, SLOT + timedelta(hours=1))
    assert refused.value.existing.code == made.booking.code

    # Ten tries at once at ten different slots: the index lets one through.
    racer = user()
    results = await asyncio.gather(
        *(book(store, racer, SLOT + timedelta(minutes=15 * i)) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Booked) for r in results) == 1
    assert sum(isinstance(r, AlreadyBooked) for r in results) == 9


async def test_a_visit_in_the_past_does_not_block_a_new_booking(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    citizen = user()
    old = await book(store, citizen, SLOT, now=SLOT - timedelta(days=3))
    later = SLOT + timedelta(days=2)
    new = await book(store, citizen, later + timedelta(days=1), now=later)
    assert new.created
    past = await store.find(citizen, old.booking.code)
    assert past is not None and past.status == DONE


async def test_a_reschedule_is_all_or_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = BookingStore(sessions)
    citizen, other = user(), user()
    full = SLOT + timedelta(hours=2)
    await book(store, other, full, windows=1)
    made = await book(store, citizen, windows=1)

    with pytest.raises(SlotFull):
        await book(store, citizen, full, windows=1, replaces=made.booking.code)
    kept = await store.find(citizen, made.booking.code)
    assert kept is not None and kept.status == ACTIVE  # the failed move changed nothing

    moved = await book(store, citizen, SLOT + timedelta(hours=3), replaces=made.booking.code)
    assert moved.created and moved.booking.replaces_id == made.booking.id
    old = await store.find(citizen, made.booking.code)
    assert old is not None and old.status == RESCHEDULED
    assert await active_at(sessions, SLOT) == []  # the old window is free again
    async with sessions() as session:
        rows = await session.execute(
            select(BookingReminder.booking_id, BookingReminder.status).where(
                BookingReminder.booking_id.in_([made.booking.id, moved.booking.id])
            )
        )
        by_booking: dict[int, set[str]] = {}
        for booking_id, status in rows.all():
            by_booking.setdefault(booking_id, set()).add(status)
    assert by_booking == {
        made.booking.id: {REMINDER_CANCELLED},
        moved.booking.id: {REMINDER_PENDING},
    }
    with pytest.raises(NotFound):
        await book(store, citizen, SLOT + timedelta(hours=4), replaces=made.booking.code)


async def test_a_double_confirm_of_a_reschedule_moves_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    citizen = user()
    made = await book(store, citizen)
    key = f"{citizen}:beef0002"
    target = SLOT + timedelta(days=1)
    first, second = await asyncio.gather(
        book(store, citizen, target, key=key, replaces=made.booking.code),
        book(store, citizen, target, key=key, replaces=made.booking.code),
    )
    assert first.booking.code == second.booking.code
    assert len(await store.upcoming(citizen, NOW)) == 1


async def test_reminders_are_only_made_for_moments_still_ahead(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    soon = NOW + timedelta(hours=5)  # the day-before moment has passed already
    made = await book(store, user(), soon)
    async with sessions() as session:
        offsets = list(
            (
                await session.execute(
                    select(BookingReminder.minutes_before).where(
                        BookingReminder.booking_id == made.booking.id
                    )
                )
            ).scalars()
        )
    assert offsets == [60]


async def test_times_come_back_aware_and_equal(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = BookingStore(sessions)
    made = await book(store, user())
    found = await store.find(made.booking.user_id, made.booking.code)
    assert found is not None and found.starts_at == SLOT and found.starts_at.tzinfo is not None
    taken = await store.taken("ast-psc1", SLOT - timedelta(hours=1), SLOT + timedelta(hours=1))
    assert taken == {SLOT: 1}


async def test_the_indexes_refuse_what_the_code_would_not_try(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The guarantee is the database's, not the insert loop's: inserts that
    skip the loop's checks are refused by the partial unique indexes."""
    store = BookingStore(sessions)
    citizen = user()
    made = await book(store, citizen, windows=1)

    def row(user_id: int, **changes: object) -> dict[str, object]:
        values: dict[str, object] = {
            "code": f"T{next(_keys):05d}",
            "user_id": user_id,
            "service": "duplicate",
            "office_id": "ast-psc1",
            "starts_at": SLOT,
            "window_no": 1,
            "status": ACTIVE,
            "lang": "ru",
            "idempotency_key": f"direct:{next(_keys)}",
            "created_at": NOW,
        }
        values.update(changes)
        return values

    async with sessions() as session, session.begin():
        assert await insert_or_nothing(session, row(user())) is None  # window 1 is taken
        assert await insert_or_nothing(session, row(citizen, window_no=2)) is None  # 2nd active
        same_key = row(user(), window_no=3, idempotency_key=made.booking.idempotency_key)
        assert await insert_or_nothing(session, same_key) is None
        # Inactive rows hold nothing: a cancelled booking in the same window is fine.
        assert await insert_or_nothing(session, row(user(), status="cancelled")) is not None
    await store.cancel(citizen, made.booking.code, NOW)
    async with sessions() as session, session.begin():
        assert await insert_or_nothing(session, row(user())) is not None  # window 1 free again


async def test_forgetting_a_citizen_deletes_their_bookings(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = BookingStore(sessions)
    citizen, other = user(), user()
    await book(store, citizen, windows=1)
    await book(store, other, SLOT + timedelta(hours=1))
    async with sessions() as session, session.begin():
        assert await delete_for_user(session, citizen) == 1
    assert await store.upcoming(citizen, NOW) == []
    assert len(await store.upcoming(other, NOW)) == 1
    assert (await book(store, user(), windows=1)).created  # the window is free
