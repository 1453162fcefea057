"""The user's row: remembered language."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import User


class SqlUserDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def get_language(self, user_id: int) -> str | None:
        async with self.sessions() as session:
            user = await session.get(User, user_id)
            return user.language if user else None

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
