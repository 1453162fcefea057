"""Claims: "the first to ask gets it" keys with a lifetime.

Used to process each Telegram update once (a webhook update Telegram
redelivers, or the same update reaching two workers), to act on one press
of a keyboard, and to send one flood notice. In Redis this is `SET NX` with
a TTL, so several workers share the answer; in memory otherwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

# Telegram keeps an unconfirmed update for 24 hours; remember ours longer.
UPDATE_TTL = 48 * 3600.0


class Claims(Protocol):
    async def claim(self, key: str, ttl: float) -> bool:
        """True for the first caller of `key` within `ttl` seconds, False after."""
        ...


class MemoryClaims:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._next_purge = 0.0

    async def claim(self, key: str, ttl: float) -> bool:
        now = self._clock()
        if now >= self._next_purge:
            self._purge(now)
        expires = self._expiry.get(key)
        if expires is not None and expires > now:
            return False
        self._expiry[key] = now + ttl
        return True

    def _purge(self, now: float) -> None:
        self._expiry = {k: v for k, v in self._expiry.items() if v > now}
        self._next_purge = now + 60.0

    def __len__(self) -> int:
        return len(self._expiry)


class RedisClaims:
    """`redis` is a `redis.asyncio.Redis` client; keys are `prefix + key`."""

    def __init__(self, redis: Any, prefix: str = "tg:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def claim(self, key: str, ttl: float) -> bool:
        ms = max(1, math.ceil(ttl * 1000))
        return bool(await self.redis.set(self.prefix + key, b"1", nx=True, px=ms))
