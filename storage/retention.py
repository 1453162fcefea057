"""Retention: personal data is kept only as long as the service needs it.

- Applications: the personal fields (names, IIN and its hash, phone, the
  PDF, the staff hand-off note) are blanked `days` after the application
  reached its final status (issued or rejected), the way /forget blanks
  them; number, status and dates stay for staff statistics.
- Hand-offs: closed (or failed) hand-offs and the staff-chat message ids
  that tie citizens to them are deleted `handoff_days` after closing.
- Outbox: notifications that were sent, failed or whose delivery is unknown
  are deleted `outbox_days` after they were written (their text may carry a
  name, a place, a reason). Pending rows are never touched.

One transaction; works on SQLite and PostgreSQL; safe to run from several
workers at once (each statement is conditional and idempotent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import outbox
from storage.applications import (
    ISSUED,
    REJECTED,
    Application,
    forget_applications,
)
from storage.handoffs import CLOSED, FAILED, Handoff, HandoffMessage

APPLICATION_DAYS = 365
HANDOFF_DAYS = 30
OUTBOX_DAYS = 30
FINAL_STATUSES = (ISSUED, REJECTED)
BATCH = 500  # applications blanked per statement (PostgreSQL's parameter limit is far)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    days: int = APPLICATION_DAYS,
    handoff_days: int = HANDOFF_DAYS,
    outbox_days: int = OUTBOX_DAYS,
) -> dict[str, int]:
    """Remove personal data past its retention period; how many of each:
    {"applications", "handoffs", "handoff_messages", "outbox"}."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    app_cutoff = now - timedelta(days=days)
    handoff_cutoff = now - timedelta(days=handoff_days)
    outbox_cutoff = now - timedelta(days=outbox_days)
    async with sessions() as session, session.begin():
        ids = list(
            (
                await session.scalars(
                    select(Application.id).where(
                        Application.status.in_(FINAL_STATUSES),
                        Application.updated_at < app_cutoff,
                        Application.forgotten_at.is_(None),
                    )
                )
            ).all()
        )
        forgotten = 0
        for start in range(0, len(ids), BATCH):
            forgotten += await forget_applications(session, ids[start : start + BATCH])

        old_handoffs = select(Handoff.id).where(
            Handoff.status.in_((CLOSED, FAILED)), Handoff.closed_at < handoff_cutoff
        )
        messages = await session.execute(
            delete(HandoffMessage)
            .where(HandoffMessage.handoff_id.in_(old_handoffs))
            .execution_options(synchronize_session=False)
        )
        handoffs = await session.execute(
            delete(Handoff)
            .where(Handoff.status.in_((CLOSED, FAILED)), Handoff.closed_at < handoff_cutoff)
            .execution_options(synchronize_session=False)
        )
        notices = await session.execute(
            delete(outbox.OutboxMessage)
            .where(
                outbox.OutboxMessage.status.in_((outbox.SENT, outbox.FAILED, outbox.UNKNOWN)),
                outbox.OutboxMessage.created_at < outbox_cutoff,
            )
            .execution_options(synchronize_session=False)
        )
        return {
            "applications": forgotten,
            "handoffs": _rowcount(handoffs),
            "handoff_messages": _rowcount(messages),
            "outbox": _rowcount(notices),
        }
