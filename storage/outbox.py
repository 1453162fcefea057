"""The outbox: notifications to citizens, written by whoever has news (a
status change, a booking reminder) and sent by the paced sender.

A row moves pending -> sending -> sent. Every move is one conditional
UPDATE, so two workers never both take a row, and a row once marked sending
is never sent again by anyone else: if a worker dies in the middle of a send
(the only moment nobody can know whether Telegram got the message) the row
becomes `unknown` when its lease runs out, not pending. A citizen then
misses one notification rather than getting it twice; `unknown` rows are
listed for staff to look at.

Like every repository here these functions never commit: the caller's
`async with session.begin():` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNKNOWN = "unknown"

ButtonRows = list[list[dict[str, str]]]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)

    # INTEGER PRIMARY KEY is what autoincrements on SQLite.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text)
    # Inline keyboard rows: [[{"text": ..., "payload": ...}, ...], ...]
    buttons: Mapped[ButtonRows | None] = mapped_column(JSON)
    # Set by the producer to make enqueueing idempotent ("status:42:accepted").
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def enqueue(
    session: AsyncSession,
    chat_id: int,
    text: str,
    *,
    buttons: ButtonRows | None = None,
    key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Add a notification; return its id, or None when `key` was already used."""
    now = utcnow()
    values: dict[str, Any] = {
        "chat_id": chat_id,
        "text": text,
        "buttons": buttons,
        "dedupe_key": key,
        "status": PENDING,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    stmt: Any
    if key is not None and dialect in ("sqlite", "postgresql"):
        # The unique key decides, atomically, on both back ends; no savepoint needed.
        dialect_insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        stmt = (
            dialect_insert(OutboxMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OutboxMessage.id)
        )
    else:
        stmt = insert(OutboxMessage).values(**values).returning(OutboxMessage.id)
    row_id = (await session.execute(stmt)).scalar_one_or_none()
    return int(row_id) if row_id is not None else None


async def due_heads(session: AsyncSession, now: datetime, limit: int) -> Sequence[OutboxMessage]:
    """The oldest due pending row of each chat, oldest first: one chat with
    a long queue does not hold up the others."""
    heads = (
        select(func.min(OutboxMessage.id))
        .where(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now)
        .group_by(OutboxMessage.chat_id)
        .order_by(func.min(OutboxMessage.id))
        .limit(limit)
    )
    ids = list((await session.execute(heads)).scalars())
    if not ids:
        return []
    rows = await session.execute(
        select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    )
    return rows.scalars().all()


async def claim(
    session: AsyncSession, row_id: int, worker: str, now: datetime, lease: timedelta
) -> bool:
    """Take a pending row for sending; False when someone else has it."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING)
        .values(
            status=SENDING,
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def mark_sent(
    session: AsyncSession, row_id: int, worker: str, now: datetime, message_id: int | None
) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.claimed_by == worker,
            OutboxMessage.status.in_((SENDING, UNKNOWN)),
        )
        .values(status=SENT, sent_at=now, telegram_message_id=message_id, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def release(
    session: AsyncSession,
    row_id: int,
    worker: str,
    error: str,
    *,
    retry_at: datetime | None,
) -> bool:
    """Telegram certainly did not take the message: try again at `retry_at`,
    or give up (`retry_at=None`)."""
    values: dict[str, Any] = {"last_error": error[:300], "claimed_until": None}
    if retry_at is None:
        values["status"] = FAILED
    else:
        values.update(status=PENDING, not_before=retry_at)
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.claimed_by == worker,
            OutboxMessage.status == SENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def expire_leases(session: AsyncSession, now: datetime) -> int:
    """Rows whose sender vanished mid-send: delivery unknown, never resent."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == SENDING, OutboxMessage.claimed_until < now)
        .values(status=UNKNOWN, last_error="sender stopped while sending; delivery unknown")
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def delete_for_chat(session: AsyncSession, chat_id: int) -> int:
    """A citizen's /forget: every notification to them, sent or not."""
    result = await session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: int(n) for status, n in rows}


UNDELIVERED = (UNKNOWN, FAILED)


async def undelivered(session: AsyncSession, limit: int = 50) -> Sequence[OutboxMessage]:
    """Notifications that may not have reached the citizen (the sender died
    mid-send, or Telegram refused them for good): newest first, for staff."""
    rows = await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(UNDELIVERED))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return rows.scalars().all()


async def send_again(session: AsyncSession, row_id: int, now: datetime) -> bool:
    """Staff decided: send an undelivered notification once more. False when
    the row is not undelivered (sent meanwhile, requeued twice, or gone)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status.in_(UNDELIVERED))
        .values(status=PENDING, not_before=now, attempts=0, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1
