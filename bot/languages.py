"""The user's remembered language, kept at hand between two messages.

Every question reads the language on the user's database row (the
assistant's `UserDirectory`); that read is a database round trip per
update, a tenth of what the bot spends on a question. This wrapper keeps the
answer in process memory for `ttl` seconds. Writes go through it (and to
the database first), and /forget drops the entry, so one worker is never
out of date. With several workers another one's change is seen within
`ttl`; the conversation's own language (shared state, read first
everywhere) already carries a change made in the conversation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from actions.assistant import UserDirectory

LANGUAGE_TTL = 30.0  # seconds


class RememberedLanguages:
    def __init__(
        self,
        directory: UserDirectory,
        ttl: float = LANGUAGE_TTL,
        *,
        max_users: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.ttl = ttl
        self.max_users = max_users
        self._clock = clock
        self._known: dict[int, tuple[float, str | None]] = {}

    async def get_language(self, user_id: int) -> str | None:
        now = self._clock()
        known = self._known.get(user_id)
        if known is not None and known[0] > now:
            return known[1]
        lang = await self.directory.get_language(user_id)
        self._remember(user_id, lang, now)
        return lang

    async def set_language(self, user_id: int, lang: str) -> None:
        self._known.pop(user_id, None)
        await self.directory.set_language(user_id, lang)
        self._remember(user_id, lang, self._clock())

    def forget(self, user_id: int) -> None:
        """The user's row was deleted (/forget)."""
        self._known.pop(user_id, None)

    def _remember(self, user_id: int, lang: str | None, now: float) -> None:
        if len(self._known) >= self.max_users:
            self._known = {k: v for k, v in self._known.items() if v[0] > now}
            if len(self._known) >= self.max_users:
                self._known.clear()
        self._known[user_id] = (now + self.ttl, lang)
