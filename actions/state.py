"""Conversation state: what the assistant remembers between two messages.

Lives in Redis in production (shared by bot workers, with a TTL) and in
memory by default. The user's language preference is *not* here: it is on
the user's database row and survives a wiped conversation.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

log = logging.getLogger(__name__)
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
    # The answer unit given last (a follow-up to a detail is about its topic).
    last_unit: str | None = None
    # The one office the last message named ("ЦОН по субботам работает?"),
    # though its answer held for every office: "а до скольки" asks of it.
    named_channel: str | None = None
    # Said once per conversation: the source order has been repealed.
    noted_repeal: bool = False
    # Messages of a burst that said nothing on their own ("здравствуйте",
    # "у меня вопрос", "КазНУ"): [unix time, text]; read with the next one.
    fragments: list[list[Any]] = field(default_factory=list)
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


def shared_store_errors() -> tuple[type[BaseException], ...]:
    """What a shared store (Redis) raises when it cannot be reached or used."""
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is a dependency
        return (OSError, TimeoutError)
    return (RedisError, OSError, TimeoutError)


class Outage:
    """Whether the shared store answers. After a failure it is not asked
    again for `retry_after` seconds (process memory serves meanwhile, with
    no wait per message); then one call tries it. Said in the log once when
    it goes away and once when it is back, not once per message."""

    def __init__(
        self,
        what: str = "Redis",
        *,
        retry_after: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.retry_after = retry_after
        self._clock = clock
        self.since: float | None = None  # when the current outage began
        self.outages = 0  # outages seen, in all
        self.failed_calls = 0
        self.seconds_down = 0.0  # of the outages that ended
        self._next_try = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def usable(self) -> bool:
        """True when the store should be asked (up, or time to try again)."""
        return self.since is None or self._clock() >= self._next_try

    def failed(self, exc: BaseException, part: str) -> None:
        now = self._clock()
        self.failed_calls += 1
        self._next_try = now + self.retry_after
        if self.since is None:
            self.since = now
            self.outages += 1
            log.warning(
                "%s unreachable (%s, first seen by %s): conversation state, de-duplication, "
                "locks and limits are kept in process memory, best effort, until it answers",
                self.what,
                type(exc).__name__,
                part,
            )

    def succeeded(self) -> None:
        if self.since is not None:
            lasted = self._clock() - self.since
            self.seconds_down += lasted
            self.since = None
            log.warning("%s answers again after %.1f s", self.what, lasted)


class FallbackStateStore:
    """The shared store (Redis) while it answers, process memory while it
    does not: questions need no shared state, so an outage costs at most
    the conversations' context, never an answer.

    A conversation saved in memory during an outage is newer than the shared
    copy: it is read first and written back once the store answers again. A
    conversation cleared (/forget) during an outage is cleared in the shared
    store too once it answers."""

    def __init__(
        self,
        primary: StateStore,
        outage: Outage | None = None,
        memory: MemoryStateStore | None = None,
    ) -> None:
        self.primary = primary
        self.outage = outage or Outage()
        self.memory = memory or MemoryStateStore()
        self._errors = shared_store_errors()
        self._cleared: set[int] = set()

    def _held(self, user_id: int) -> bool:
        return user_id in self.memory._data

    async def load(self, user_id: int) -> Conversation:
        if not self.outage.usable():
            return await self.memory.load(user_id)
        try:
            if user_id in self._cleared:
                await self.primary.clear(user_id)
                self._cleared.discard(user_id)
            if self._held(user_id):
                # Written here while the store was away: newer than its copy.
                conv = await self.memory.load(user_id)
                await self.primary.save(user_id, conv)
                await self.memory.clear(user_id)
            else:
                conv = await self.primary.load(user_id)
        except self._errors as exc:
            self.outage.failed(exc, "conversation state")
            return await self.memory.load(user_id)
        self.outage.succeeded()
        return conv

    async def save(self, user_id: int, conv: Conversation) -> None:
        if self.outage.usable():
            try:
                await self.primary.save(user_id, conv)
            except self._errors as exc:
                self.outage.failed(exc, "conversation state")
            else:
                self.outage.succeeded()
                self._cleared.discard(user_id)
                await self.memory.clear(user_id)
                return
        await self.memory.save(user_id, conv)

    async def clear(self, user_id: int) -> None:
        await self.memory.clear(user_id)
        if self.outage.usable():
            try:
                await self.primary.clear(user_id)
            except self._errors as exc:
                self.outage.failed(exc, "conversation state")
            else:
                self.outage.succeeded()
                self._cleared.discard(user_id)
                return
        self._cleared.add(user_id)
