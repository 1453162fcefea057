"""Bookings in the electronic queue and their reminders.

Correctness lives in the database, the same on SQLite and PostgreSQL, with
no lock in the process:

- A slot (office, start) holds at most `windows` citizens: a booking takes a
  window number, and a unique index on (office_id, starts_at, window_no) over
  active bookings lets only one booking have each window. A booking is
  inserted into the first window that looks free; when a concurrent booking
  took it first, the insert does nothing and the next window is tried.
- One active booking per citizen and service: a unique index on (user_id,
  service) over active bookings.
- A double press of "confirm" makes one booking: the confirmation carries an
  idempotency key, unique in the table; the second press finds the first
  booking and returns it.
- A booking, a reschedule (old one retired + new one) and a cancellation are
  each one transaction: a crash leaves all or nothing.
- A reminder is marked sent with a conditional UPDATE (only a pending
  reminder of an active booking) in the transaction that puts its message
  into the outbox under a unique key: sent once, even across restarts; a
  cancellation marks pending reminders cancelled and removes their unsent
  outbox messages.

A booking stores the citizen's Telegram id and nothing else about them.
Timestamps are stored in UTC (`UTCDateTime`): SQLite keeps no offset, so
every value is converted on the way in and marked UTC on the way out.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from storage.models import Base, utcnow
from storage.outbox import PENDING as OUTBOX_PENDING
from storage.outbox import OutboxMessage

# Booking statuses. Only `active` ones hold a window.
ACTIVE = "active"
CANCELLED = "cancelled"
RESCHEDULED = "rescheduled"  # replaced by a later booking (replaces_id)
DONE = "done"  # its time has passed

# Reminder statuses.
REMINDER_PENDING = "pending"
REMINDER_SENT = "sent"  # its message is in the outbox
REMINDER_SKIPPED = "skipped"  # superseded by a later reminder, or the visit passed
REMINDER_CANCELLED = "cancelled"  # the booking was cancelled or rescheduled

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
CODE_LENGTH = 6
_ACTIVE_ONLY = text("status = 'active'")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC, read back as aware UTC on both back ends."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _int_pk() -> Any:
    # INTEGER PRIMARY KEY is what autoincrements on SQLite.
    return BigInteger().with_variant(Integer, "sqlite")


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_window",
            "office_id",
            "starts_at",
            "window_no",
            unique=True,
            sqlite_where=_ACTIVE_ONLY,
            postgresql_where=_ACTIVE_ONLY,
        ),
        Index(
            "uq_bookings_active_per_service",
            "user_id",
            "service",
            unique=True,
            sqlite_where=_ACTIVE_ONLY,
            postgresql_where=_ACTIVE_ONLY,
        ),
        Index("ix_bookings_office_start", "office_id", "starts_at"),
        CheckConstraint("window_no >= 1", name="ck_bookings_window_no"),
    )

    id: Mapped[int] = mapped_column(_int_pk(), primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)  # Telegram id only
    service: Mapped[str] = mapped_column(String(32))
    office_id: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    lang: Mapped[str] = mapped_column(String(2))  # of the reminders
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    replaces_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BookingReminder(Base):
    __tablename__ = "booking_reminders"
    __table_args__ = (
        UniqueConstraint("booking_id", "minutes_before", name="uq_booking_reminders_offset"),
        Index("ix_booking_reminders_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(_int_pk(), primary_key=True, autoincrement=True)
    booking_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    minutes_before: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=REMINDER_PENDING)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BookingError(Exception):
    pass


class SlotFull(BookingError):
    """Every window of the slot is taken."""


class AlreadyBooked(BookingError):
    """The citizen has an active booking for this service already."""

    def __init__(self, existing: Booking) -> None:
        super().__init__(existing.code)
        self.existing = existing


class NotFound(BookingError):
    """No such active booking of this citizen."""


@dataclass(frozen=True)
class Booked:
    booking: Booking
    created: bool  # False: the same confirmation was handled before


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def reminder_key(booking_id: int, minutes_before: int) -> str:
    """The outbox key of a reminder's message."""
    return f"booking:{booking_id}:remind:{minutes_before}"


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# -- repository functions: never commit; the caller's transaction does -----------------------
async def insert_or_nothing(session: AsyncSession, values: dict[str, Any]) -> Booking | None:
    """INSERT a booking and return it, or None when a unique index refused it."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        # Without a conflict target, every unique index counts (partial ones too).
        dialect_insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        stmt: Any = (
            dialect_insert(Booking).values(**values).on_conflict_do_nothing().returning(Booking)
        )
        return (await session.execute(stmt)).scalar_one_or_none()
    try:
        async with session.begin_nested():
            result = await session.execute(insert(Booking).values(**values).returning(Booking))
            return result.scalar_one()
    except IntegrityError:
        return None


async def by_key(session: AsyncSession, key: str) -> Booking | None:
    result = await session.execute(select(Booking).where(Booking.idempotency_key == key))
    return result.scalar_one_or_none()


async def active_of(
    session: AsyncSession, user_id: int, service: str | None = None
) -> Booking | None:
    stmt = select(Booking).where(Booking.user_id == user_id, Booking.status == ACTIVE)
    if service is not None:
        stmt = stmt.where(Booking.service == service)
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def taken_windows(session: AsyncSession, office_id: str, starts_at: datetime) -> set[int]:
    result = await session.execute(
        select(Booking.window_no).where(
            Booking.office_id == office_id,
            Booking.starts_at == starts_at,
            Booking.status == ACTIVE,
        )
    )
    return set(result.scalars())


async def retire(session: AsyncSession, booking_id: int, now: datetime) -> None:
    """The booking stopped being active: no reminder of it goes out any more."""
    await session.execute(
        update(BookingReminder)
        .where(
            BookingReminder.booking_id == booking_id,
            BookingReminder.status == REMINDER_PENDING,
        )
        .values(status=REMINDER_CANCELLED, settled_at=now)
        .execution_options(synchronize_session=False)
    )
    # A reminder already handed to the outbox but not yet taken by the sender.
    await session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key.like(f"booking:{booking_id}:remind:%"),
            OutboxMessage.status == OUTBOX_PENDING,
        )
        .execution_options(synchronize_session=False)
    )


async def _close_past(session: AsyncSession, booking_id: int, now: datetime) -> None:
    await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == ACTIVE, Booking.starts_at < now)
        .values(status=DONE, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    await retire(session, booking_id, now)


async def due_reminders(
    session: AsyncSession, now: datetime, limit: int = 200
) -> list[tuple[BookingReminder, Booking]]:
    """Pending reminders whose moment has come, earliest first."""
    result = await session.execute(
        select(BookingReminder, Booking)
        .join(Booking, Booking.id == BookingReminder.booking_id)
        .where(BookingReminder.status == REMINDER_PENDING, BookingReminder.due_at <= now)
        .order_by(BookingReminder.due_at, BookingReminder.id)
        .limit(limit)
    )
    return [(r, b) for r, b in result.all()]


async def latest_due(
    session: AsyncSession, booking_ids: Sequence[int], now: datetime
) -> dict[int, datetime]:
    """For each booking, the moment of its latest pending reminder already due."""
    if not booking_ids:
        return {}
    result = await session.execute(
        select(BookingReminder.booking_id, func.max(BookingReminder.due_at))
        .where(
            BookingReminder.booking_id.in_(list(booking_ids)),
            BookingReminder.status == REMINDER_PENDING,
            BookingReminder.due_at <= now,
        )
        .group_by(BookingReminder.booking_id)
    )
    return {booking_id: _as_utc(due) for booking_id, due in result.all()}


def _as_utc(value: datetime) -> datetime:
    # An aggregate is not typed by the column: SQLite gives a naive UTC value.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def settle_reminder(
    session: AsyncSession, reminder_id: int, status: str, now: datetime
) -> bool:
    """pending -> `status`, atomically; True for the one caller that moved it.
    Only a reminder of an active booking can become `sent`."""
    stmt = update(BookingReminder).where(
        BookingReminder.id == reminder_id, BookingReminder.status == REMINDER_PENDING
    )
    if status == REMINDER_SENT:
        still_active = (
            select(Booking.id)
            .where(Booking.id == BookingReminder.booking_id, Booking.status == ACTIVE)
            .exists()
        )
        stmt = stmt.where(still_active)
    result = await session.execute(
        stmt.values(status=status, settled_at=now).execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def delete_for_user(session: AsyncSession, user_id: int) -> int:
    """A citizen's /forget: their bookings and reminders (outbox rows go by chat)."""
    ids = select(Booking.id).where(Booking.user_id == user_id).scalar_subquery()
    await session.execute(
        delete(BookingReminder)
        .where(BookingReminder.booking_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(Booking)
        .where(Booking.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


# -- units of work ------------------------------------------------------------------------
class BookingStore:
    """What the booking flow and the staff list do with the database; each
    method is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def book(
        self,
        *,
        user_id: int,
        service: str,
        office_id: str,
        windows: int,
        starts_at: datetime,
        lang: str,
        key: str,
        reminders: Sequence[timedelta] = (),
        now: datetime | None = None,
        replaces: str | None = None,
    ) -> Booked:
        """Book a window of the slot (office, starts_at) for the citizen, or,
        with `replaces`, move their active booking of that code there.

        Raises SlotFull, AlreadyBooked, NotFound (`replaces` not active).
        A confirmation handled before (same `key`) returns its booking.
        """
        now = now or utcnow()
        async with self.sessions() as session, session.begin():
            old_id: int | None = None
            if replaces is not None:
                result = await session.execute(
                    update(Booking)
                    .where(
                        Booking.user_id == user_id,
                        Booking.code == replaces,
                        Booking.status == ACTIVE,
                    )
                    .values(status=RESCHEDULED, ended_at=now)
                    .returning(Booking.id)
                    .execution_options(synchronize_session=False)
                )
                old_id = result.scalar_one_or_none()
                if old_id is None:
                    earlier = await by_key(session, key)
                    if earlier is not None:
                        return Booked(earlier, created=False)
                    raise NotFound(replaces)
                await retire(session, old_id, now)
            booking = await self._take_window(
                session,
                {
                    "user_id": user_id,
                    "service": service,
                    "office_id": office_id,
                    "starts_at": starts_at,
                    "status": ACTIVE,
                    "lang": lang,
                    "idempotency_key": key,
                    "replaces_id": old_id,
                    "created_at": now,
                },
                windows,
                now,
            )
            if isinstance(booking, Booked):
                return booking
            for offset in reminders:
                due = starts_at - offset
                if due > now:
                    session.add(
                        BookingReminder(
                            booking_id=booking.id,
                            minutes_before=int(offset.total_seconds() // 60),
                            due_at=due,
                            status=REMINDER_PENDING,
                        )
                    )
            return Booked(booking, created=True)

    async def _take_window(
        self, session: AsyncSession, values: dict[str, Any], windows: int, now: datetime
    ) -> Booking | Booked:
        """Insert into the first free window; a refused insert is explained
        (same confirmation, the citizen's other booking, a window taken
        meanwhile, a clash of codes) and acted on."""
        office_id, starts_at = values["office_id"], values["starts_at"]
        user_id, service, key = values["user_id"], values["service"], values["idempotency_key"]
        taken = await taken_windows(session, office_id, starts_at)
        free = [w for w in range(1, windows + 1) if w not in taken]
        tries = 0
        while free and tries < windows + 10:
            tries += 1
            window = free[0]
            booking = await insert_or_nothing(
                session, {**values, "code": new_code(), "window_no": window}
            )
            if booking is not None:
                return booking
            earlier = await by_key(session, key)
            if earlier is not None:
                return Booked(earlier, created=False)
            mine = await active_of(session, user_id, service)
            if mine is not None:
                if mine.starts_at < now:
                    # A visit whose time has passed no longer counts: close it, try again.
                    await _close_past(session, mine.id, now)
                    continue
                session.expunge(mine)  # out of the session: the rollback would expire it
                raise AlreadyBooked(mine)
            if window in await taken_windows(session, office_id, starts_at):
                free.pop(0)  # someone took this window meanwhile: the next one
            # else the code clashed with another booking's: again with a fresh one
        # No window left; unless this is a repeat or the citizen holds another booking.
        earlier = await by_key(session, key)
        if earlier is not None:
            return Booked(earlier, created=False)
        mine = await active_of(session, user_id, service)
        if mine is not None and mine.starts_at >= now:
            session.expunge(mine)
            raise AlreadyBooked(mine)
        raise SlotFull(f"{office_id} {starts_at.isoformat()}")

    async def cancel(self, user_id: int, code: str, now: datetime | None = None) -> Booking | None:
        """Cancel the citizen's active booking `code`; None when there is none."""
        now = now or utcnow()
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(Booking)
                .where(Booking.user_id == user_id, Booking.code == code, Booking.status == ACTIVE)
                .values(status=CANCELLED, ended_at=now)
                .returning(Booking.id)
                .execution_options(synchronize_session=False)
            )
            booking_id = result.scalar_one_or_none()
            if booking_id is None:
                return None
            await retire(session, booking_id, now)
            return await session.get(Booking, booking_id)

    async def find(self, user_id: int, code: str) -> Booking | None:
        async with self.sessions() as session:
            result = await session.execute(
                select(Booking).where(Booking.user_id == user_id, Booking.code == code)
            )
            return result.scalar_one_or_none()

    async def by_key(self, key: str) -> Booking | None:
        async with self.sessions() as session:
            return await by_key(session, key)

    async def upcoming(
        self, user_id: int, now: datetime, service: str | None = None
    ) -> list[Booking]:
        """The citizen's active bookings that have not started yet, soonest first."""
        stmt = select(Booking).where(
            Booking.user_id == user_id, Booking.status == ACTIVE, Booking.starts_at >= now
        )
        if service is not None:
            stmt = stmt.where(Booking.service == service)
        async with self.sessions() as session:
            result = await session.execute(stmt.order_by(Booking.starts_at))
            return list(result.scalars())

    async def taken(self, office_id: str, start: datetime, end: datetime) -> dict[datetime, int]:
        """Active bookings per slot start in [start, end)."""
        async with self.sessions() as session:
            result = await session.execute(
                select(Booking.starts_at, func.count())
                .where(
                    Booking.office_id == office_id,
                    Booking.status == ACTIVE,
                    Booking.starts_at >= start,
                    Booking.starts_at < end,
                )
                .group_by(Booking.starts_at)
            )
            return {at: int(n) for at, n in result.all()}

    async def day_list(
        self, office_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[Booking]:
        """Active bookings of these offices in [start, end), for the staff."""
        async with self.sessions() as session:
            result = await session.execute(
                select(Booking)
                .where(
                    Booking.office_id.in_(list(office_ids)),
                    Booking.status == ACTIVE,
                    Booking.starts_at >= start,
                    Booking.starts_at < end,
                )
                .order_by(Booking.office_id, Booking.starts_at, Booking.window_no)
            )
            return list(result.scalars())
