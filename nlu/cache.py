"""The parse cache shared by every bot worker (Redis).

Citizens repeat the same short messages (greetings, thanks, the menu's
words, the common questions), and under a burst such as the grant week
every worker would otherwise ask Rasa for the same parse. A parse is kept
under the model that made it (`version`: the Rasa model's id and the bot's
own training data), so a new model never answers from the old one's parses.

Redis is a help here, never a need: a lookup that fails or takes longer than
`timeout` counts as a miss, and after a failure Redis is left alone for
`pause` seconds, so a Redis outage costs no citizen more than one `timeout`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

KEY_PREFIX = "nlu:parse:"
TTL_SECONDS = 7 * 24 * 3600
TIMEOUT = 0.05
PAUSE = 5.0


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0


class SharedParseCache:
    """Parses by model version and cleaned text, in Redis."""

    def __init__(
        self,
        redis: Any,
        *,
        ttl: int = TTL_SECONDS,
        timeout: float = TIMEOUT,
        pause: float = PAUSE,
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self.timeout = timeout
        self.pause = pause
        self.stats = CacheStats()
        self._paused_until = 0.0

    @staticmethod
    def key(version: str, text: str) -> str:
        # Hashed: the key names no citizen's words (the value is the parse).
        digest = hashlib.sha256(text.encode()).hexdigest()[:40]
        return f"{KEY_PREFIX}{version}:{digest}"

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if time.monotonic() >= self._paused_until:
            log.warning(
                "Parse cache: Redis did not answer (%s); not asked for %.0f s",
                type(exc).__name__,
                self.pause,
            )
        self._paused_until = time.monotonic() + self.pause

    async def get(self, version: str, text: str) -> dict[str, Any] | None:
        if time.monotonic() < self._paused_until:
            return None
        try:
            raw = await asyncio.wait_for(self.redis.get(self.key(version, text)), self.timeout)
        except Exception as exc:  # down, slow, or a broken value: a miss
            self._failed(exc)
            return None
        if raw is None:
            self.stats.misses += 1
            return None
        try:
            value: dict[str, Any] = json.loads(raw)
        except ValueError:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return value

    async def put(self, version: str, text: str, value: dict[str, Any]) -> None:
        if time.monotonic() < self._paused_until:
            return
        payload = json.dumps(value, ensure_ascii=False)
        try:
            await asyncio.wait_for(
                self.redis.set(self.key(version, text), payload, ex=self.ttl), self.timeout
            )
        except Exception as exc:
            self._failed(exc)
