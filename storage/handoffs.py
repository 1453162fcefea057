"""Hand-offs: a citizen's conversation given to a person in the staff chat.

Three tables:
* `handoffs`: one row per hand-off (who, language, what the bot had
  understood, open/closed, when). At most one open hand-off per citizen: a
  partial unique index decides, on SQLite and PostgreSQL alike, so two
  workers asked at once cannot open two.
* `staff_topics`: the staff chat's forum topic of each citizen (one topic
  per citizen, reused by their later hand-offs); the mapping topic -> citizen.
* `handoff_messages`: staff-chat messages that belong to a hand-off (its
  header and the relayed citizen messages). When the staff chat has no
  topics, agents answer by replying to one of them; suggestion buttons sit
  on them too.

No message text is stored here: the conversation itself lives in the staff
chat. Repositories never commit; the caller's unit of work does.
`Handoffs` below is that unit of work for the dialogue and the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from storage import outbox
from storage.models import Base, utcnow

OPEN = "open"
CLOSED = "closed"
FAILED = "failed"  # the staff chat could not be reached; the citizen was told to call 1414

BY_CITIZEN = "citizen"
BY_STAFF = "staff"
BY_IDLE = "idle"  # nobody wrote for HANDOFF_IDLE_HOURS: closed by the bot


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        Index(
            "uq_handoffs_one_open",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_handoffs_status", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    lang: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12), default=OPEN)
    # Why: "asked" (the citizen asked for a person) or "not_understood".
    reason: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # None: reply threads
    header_message_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_citizen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_staff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(12))


class StaffTopic(Base):
    __tablename__ = "staff_topics"
    __table_args__ = (UniqueConstraint("staff_chat_id", "thread_id"),)

    staff_chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HandoffMessage(Base):
    __tablename__ = "handoff_messages"

    staff_chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


# -- repository functions (the caller commits) ----------------------------------------
async def open_of(session: AsyncSession, user_id: int) -> Handoff | None:
    return (
        await session.execute(
            select(Handoff).where(Handoff.user_id == user_id, Handoff.status == OPEN)
        )
    ).scalar_one_or_none()


async def insert_open(
    session: AsyncSession,
    user_id: int,
    lang: str,
    reason: str,
    intent: str | None,
    confidence: float | None,
) -> Handoff:
    """Raises IntegrityError when the citizen already has an open hand-off."""
    row = Handoff(
        user_id=user_id,
        lang=lang,
        status=OPEN,
        reason=reason,
        intent=intent,
        confidence=confidence,
        opened_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def close(session: AsyncSession, handoff_id: int, status: str, by: str | None) -> bool:
    """Open -> `status`; False when it was not open any more (closed twice)."""
    result = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == OPEN)
        .values(status=status, closed_at=utcnow(), closed_by=by)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def topic_of(session: AsyncSession, staff_chat_id: int, user_id: int) -> int | None:
    row = await session.get(StaffTopic, (staff_chat_id, user_id))
    return row.thread_id if row else None


async def citizen_of_topic(session: AsyncSession, staff_chat_id: int, thread_id: int) -> int | None:
    return (
        await session.execute(
            select(StaffTopic.user_id).where(
                StaffTopic.staff_chat_id == staff_chat_id, StaffTopic.thread_id == thread_id
            )
        )
    ).scalar_one_or_none()


async def save_topic(
    session: AsyncSession, staff_chat_id: int, user_id: int, thread_id: int
) -> None:
    row = await session.get(StaffTopic, (staff_chat_id, user_id))
    if row is None:
        session.add(StaffTopic(staff_chat_id=staff_chat_id, user_id=user_id, thread_id=thread_id))
    else:
        row.thread_id = thread_id
        row.created_at = utcnow()


async def handoff_of_message(
    session: AsyncSession, staff_chat_id: int, message_id: int
) -> Handoff | None:
    return (
        await session.execute(
            select(Handoff)
            .join(HandoffMessage, HandoffMessage.handoff_id == Handoff.id)
            .where(
                HandoffMessage.staff_chat_id == staff_chat_id,
                HandoffMessage.message_id == message_id,
            )
        )
    ).scalar_one_or_none()


@dataclass(frozen=True)
class StaffTraces:
    """Where a citizen's hand-offs are in one staff chat: the forum topics,
    and the messages outside any topic (reply threads)."""

    user_id: int
    staff_chat_id: int
    topics: tuple[int, ...] = ()
    messages: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.topics or self.messages)


async def staff_traces(session: AsyncSession, user_id: int, staff_chat_id: int) -> StaffTraces:
    """What /forget removes from the staff chat (read before `delete_for_user`)."""
    topics = set(
        (
            await session.scalars(
                select(StaffTopic.thread_id).where(
                    StaffTopic.staff_chat_id == staff_chat_id, StaffTopic.user_id == user_id
                )
            )
        ).all()
    )
    topics.update(
        t
        for t in (
            await session.scalars(
                select(Handoff.thread_id).where(
                    Handoff.user_id == user_id,
                    Handoff.staff_chat_id == staff_chat_id,
                    Handoff.thread_id.is_not(None),
                )
            )
        ).all()
        if t is not None
    )
    messages = (
        await session.scalars(
            select(HandoffMessage.message_id)
            .join(Handoff, Handoff.id == HandoffMessage.handoff_id)
            .where(
                Handoff.user_id == user_id,
                Handoff.thread_id.is_(None),
                HandoffMessage.staff_chat_id == staff_chat_id,
            )
            .order_by(HandoffMessage.message_id)
        )
    ).all()
    return StaffTraces(user_id, staff_chat_id, tuple(sorted(topics)), tuple(messages))


async def delete_for_user(session: AsyncSession, user_id: int) -> int:
    """A citizen's /forget: their hand-off records and topic mapping (the
    staff chat's own history is Telegram's to delete)."""
    ids = select(Handoff.id).where(Handoff.user_id == user_id)
    await session.execute(
        delete(HandoffMessage)
        .where(HandoffMessage.handoff_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(StaffTopic)
        .where(StaffTopic.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(Handoff)
        .where(Handoff.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


# -- the unit of work the dialogue and the console use ------------------------------------
@dataclass(frozen=True)
class HandoffView:
    """A hand-off as the dialogue and the console see it (a detached copy)."""

    id: int
    user_id: int
    lang: str
    status: str
    reason: str
    intent: str | None
    confidence: float | None
    staff_chat_id: int | None
    thread_id: int | None
    header_message_id: int | None
    opened_at: datetime
    last_citizen_at: datetime | None
    last_staff_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None

    @classmethod
    def of(cls, row: Handoff) -> HandoffView:
        return cls(
            id=row.id,
            user_id=row.user_id,
            lang=row.lang,
            status=row.status,
            reason=row.reason,
            intent=row.intent,
            confidence=row.confidence,
            staff_chat_id=row.staff_chat_id,
            thread_id=row.thread_id,
            header_message_id=row.header_message_id,
            opened_at=aware(row.opened_at) or utcnow(),
            last_citizen_at=aware(row.last_citizen_at),
            last_staff_at=aware(row.last_staff_at),
            closed_at=aware(row.closed_at),
            closed_by=row.closed_by,
        )

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


class Handoffs:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def open_of(self, user_id: int) -> HandoffView | None:
        async with self.sessions() as session:
            row = await open_of(session, user_id)
            return HandoffView.of(row) if row else None

    async def get(self, handoff_id: int) -> HandoffView | None:
        async with self.sessions() as session:
            row = await session.get(Handoff, handoff_id)
            return HandoffView.of(row) if row else None

    async def create(
        self,
        user_id: int,
        lang: str,
        reason: str,
        intent: str | None = None,
        confidence: float | None = None,
    ) -> HandoffView | None:
        """A new open hand-off; None when the citizen already has one."""
        try:
            async with self.sessions() as session, session.begin():
                row = await insert_open(session, user_id, lang, reason, intent, confidence)
                return HandoffView.of(row)
        except IntegrityError:
            return None

    async def placed(
        self, handoff_id: int, staff_chat_id: int, thread_id: int | None, header_message_id: int
    ) -> None:
        """Where the hand-off went in the staff chat (and, with a topic, remember it)."""
        async with self.sessions() as session, session.begin():
            row = await session.get(Handoff, handoff_id)
            if row is None:
                return
            row.staff_chat_id = staff_chat_id
            row.thread_id = thread_id
            row.header_message_id = header_message_id
            session.add(
                HandoffMessage(
                    staff_chat_id=staff_chat_id,
                    message_id=header_message_id,
                    handoff_id=handoff_id,
                )
            )
            if thread_id is not None:
                await save_topic(session, staff_chat_id, row.user_id, thread_id)

    async def topic_of(self, staff_chat_id: int, user_id: int) -> int | None:
        async with self.sessions() as session:
            return await topic_of(session, staff_chat_id, user_id)

    async def forget_topic(self, staff_chat_id: int, user_id: int) -> None:
        """The topic is gone from the staff chat (deleted by an admin)."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(StaffTopic)
                .where(StaffTopic.staff_chat_id == staff_chat_id, StaffTopic.user_id == user_id)
                .execution_options(synchronize_session=False)
            )

    async def relayed(self, handoff_id: int, staff_chat_id: int, message_id: int) -> None:
        """A citizen's message reached the staff chat as `message_id`."""
        async with self.sessions() as session, session.begin():
            session.add(
                HandoffMessage(
                    staff_chat_id=staff_chat_id, message_id=message_id, handoff_id=handoff_id
                )
            )
            await session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id)
                .values(last_citizen_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def set_lang(self, handoff_id: int, lang: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id)
                .values(lang=lang)
                .execution_options(synchronize_session=False)
            )

    async def staff_answered(self, handoff_id: int) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id)
                .values(last_staff_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def close(self, handoff_id: int, by: str | None, status: str = CLOSED) -> bool:
        async with self.sessions() as session, session.begin():
            return await close(session, handoff_id, status, by)

    async def in_topic(
        self, staff_chat_id: int, thread_id: int
    ) -> tuple[int | None, HandoffView | None]:
        """(the topic's citizen, their open hand-off) for a forum topic."""
        async with self.sessions() as session:
            user_id = await citizen_of_topic(session, staff_chat_id, thread_id)
            if user_id is None:
                return None, None
            row = await open_of(session, user_id)
            return user_id, HandoffView.of(row) if row else None

    async def at_message(
        self, staff_chat_id: int, message_id: int
    ) -> tuple[int | None, HandoffView | None]:
        """(the citizen, their open hand-off) for a staff-chat message of theirs:
        an answer to an older message of the citizen still reaches them."""
        async with self.sessions() as session:
            row = await handoff_of_message(session, staff_chat_id, message_id)
            if row is None:
                return None, None
            current = row if row.status == OPEN else await open_of(session, row.user_id)
            return row.user_id, HandoffView.of(current) if current else None

    async def idle(self, before: datetime, limit: int = 100) -> Sequence[HandoffView]:
        """Open hand-offs with no message from either side since `before`."""
        last = func.coalesce(Handoff.last_citizen_at, Handoff.opened_at)
        async with self.sessions() as session:
            rows = await session.execute(
                select(Handoff)
                .where(
                    Handoff.status == OPEN,
                    Handoff.opened_at < before,
                    last < before,
                    or_(Handoff.last_staff_at.is_(None), Handoff.last_staff_at < before),
                )
                .order_by(Handoff.opened_at)
                .limit(limit)
            )
            return [HandoffView.of(r) for r in rows.scalars()]

    async def close_idle(
        self, handoff: HandoffView, text: str, buttons: list[list[dict[str, str]]]
    ) -> bool:
        """Close an idle hand-off and queue the citizen's notice, in one
        transaction: both or neither. False when it was closed meanwhile."""
        async with self.sessions() as session, session.begin():
            if not await close(session, handoff.id, CLOSED, BY_IDLE):
                return False
            await outbox.enqueue(
                session, handoff.user_id, text, buttons=buttons, key=f"ho-idle:{handoff.id}"
            )
            return True

    async def list_open(self, limit: int = 100) -> Sequence[HandoffView]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Handoff)
                .where(Handoff.status == OPEN)
                .order_by(Handoff.opened_at)
                .limit(limit)
            )
            return [HandoffView.of(r) for r in rows.scalars()]
