"""Conversation state: what the assistant remembers between two messages.

Lives in Redis in production (shared by bot workers, with a TTL) and in
memory by default. The user's language preference is *not* here: it is on
the user's database row and survives a wiped conversation.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

STATE_TTL_SECONDS = 6 * 3600
RECENT_KEPT = 10
RECENT_CHARS = 500


@dataclass
class Conversation:
    lang: str | None = None
    last_intent: str | None = None
    last_service: str | None = None
    last_channel: str | None = None
    pending_intent: str | None = None
    misses: int = 0
    flow: str | None = None
    flow_data: dict[str, Any] = field(default_factory=dict)
    # The last messages, [who, text] with who "c" (citizen) or "b" (bot):
    # what a person taking the conversation over reads first.
    recent: list[list[str]] = field(default_factory=list)
    updated: float = field(default_factory=time.time)

    def remember(self, who: str, text: str) -> None:
        self.recent = [*self.recent, [who, text[:RECENT_CHARS]]][-RECENT_KEPT:]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> Conversation:
        if not raw:
            return cls()
        try:
            data: dict[str, Any] = json.loads(raw)
        except (ValueError, TypeError):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class StateStore(Protocol):
    async def load(self, user_id: int) -> Conversation: ...
    async def save(self, user_id: int, conv: Conversation) -> None: ...
    async def clear(self, user_id: int) -> None: ...


class MemoryStateStore:
    def __init__(self, ttl: float = STATE_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._data: dict[int, tuple[float, str]] = {}

    async def load(self, user_id: int) -> Conversation:
        item = self._data.get(user_id)
        if item is None or item[0] < time.monotonic():
            self._data.pop(user_id, None)
            return Conversation()
        return Conversation.from_json(item[1])

    async def save(self, user_id: int, conv: Conversation) -> None:
        conv.updated = time.time()
        self._data[user_id] = (time.monotonic() + self.ttl, conv.to_json())

    async def clear(self, user_id: int) -> None:
        self._data.pop(user_id, None)


class RedisStateStore:
    """Redis-backed store; `redis` is a `redis.asyncio.Redis` client."""

    def __init__(self, redis: Any, prefix: str = "conv", ttl: int = STATE_TTL_SECONDS) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}:{user_id}"

    async def load(self, user_id: int) -> Conversation:
        return Conversation.from_json(await self.redis.get(self._key(user_id)))

    async def save(self, user_id: int, conv: Conversation) -> None:
        conv.updated = time.time()
        await self.redis.set(self._key(user_id), conv.to_json(), ex=self.ttl)

    async def clear(self, user_id: int) -> None:
        await self.redis.delete(self._key(user_id))
