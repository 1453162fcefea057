"""The user's row: remembered language, and when the citizen was last seen
(`updated_at`, which the retention job reads: storage/retention.py)."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import User, utcnow

log = logging.getLogger(__name__)

# A row read (the citizen wrote) is marked used at most this often: one
# write a day per active citizen, not one per message.
SEEN_EVERY = timedelta(days=1)


class SqlUserDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def get_language(self, user_id: int) -> str | None:
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            lang = user.language
            seen = user.updated_at
        now = utcnow()
        if seen is not None and seen.tzinfo is None:  # SQLite: written in UTC
            seen = seen.replace(tzinfo=UTC)
        if seen is None or now - seen > SEEN_EVERY:
            try:
                async with self.sessions() as session, session.begin():
                    await session.execute(
                        update(User)
                        .where(User.id == user_id)
                        .values(updated_at=now)
                        .execution_options(synchronize_session=False)
                    )
            except SQLAlchemyError:  # best effort: the answer matters more
                log.info("user row not marked as seen", exc_info=False)
        return lang

    async def set_language(self, user_id: int, lang: str) -> None:
        # Two updates of a new user may race to insert the row: the loser
        # retries as an update (the primary key decides, on both back ends).
        for _ in range(2):
            try:
                async with self.sessions() as session, session.begin():
                    user = await session.get(User, user_id)
                    if user is None:
                        session.add(User(id=user_id, language=lang))
                    else:
                        user.language = lang
                return
            except IntegrityError:
                continue
