"""A burst of short messages is read as one message.

People type on a phone the way they speak: "здравствуйте", "у меня вопрос",
"я потеряла диплом", "КазНУ", "что мне делать", a message each, in a few
seconds. The assistant keeps the messages that say nothing on their own
(a greeting, "у меня вопрос", a bare name: fragments) and reads the next
message together with them. The bot, for its part, does not answer each
fragment: their replies ("Здравствуйте! Напишите свой вопрос", "Не понял
вопрос") are noise when the question is already being typed.

So the reply to a fragment waits up to `BurstPolicy.wait` (the typing
indicator on meanwhile); when a newer text message from the same chat has
arrived by then, the reply is dropped: that message is read with this one.
A reply that answers something is sent at once, as before.

The newer message is usually still waiting for the per-user lock that the
fragment's handler holds (bot/middlewares/ordering.py), so its arrival is
recorded before that lock, by an outer middleware
(bot/middlewares/bursts.py): the latest message id per chat. In process
memory by default; in Redis when the bot uses Redis, so that several
workers agree. Keys live LATEST_TTL: a burst is over long before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram import Bot
from aiogram.enums import ChatAction

from actions.assistant import EMPTY_HANDED
from bot.dedupe import Claims, RedisClaims

log = logging.getLogger(__name__)

# How long the latest message id of a chat is remembered.
LATEST_TTL = 60.0
# How often a worker looks in Redis for a newer message while it waits.
REDIS_POLL = 0.1


@dataclass(frozen=True)
class BurstPolicy:
    """The reply to a fragment shorter than `max_chars` waits up to `wait`
    seconds for a newer message; 0 sends it at once."""

    wait: float = 1.2
    max_chars: int = 60


# Replies that may wait for the rest of a burst: those that answer nothing
# yet ("здравствуйте", "у меня вопрос", a fragment not understood). "Рахмет"
# ends a conversation: its reply is never held.
HELD_INTENTS = EMPTY_HANDED - {"thank"}


BURST_WAIT = BurstPolicy.wait


class Latest(Protocol):
    """The latest text message id per chat."""

    async def note(self, chat_id: int, message_id: int) -> None:
        """Message `message_id` of `chat_id` arrived (ids only grow: an older
        one noted late changes nothing)."""
        ...

    async def newer(self, chat_id: int, message_id: int, wait: float = 0.0) -> bool:
        """Whether a message newer than `message_id` arrived in `chat_id`,
        waiting for one up to `wait` seconds."""
        ...


class MemoryLatest:
    def __init__(
        self,
        ttl: float = LATEST_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_chats: int = 100_000,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max_chats = max_chats
        self._latest: dict[int, tuple[int, float]] = {}  # chat -> (message id, expiry)
        self._waiters: dict[int, set[asyncio.Event]] = {}

    def _get(self, chat_id: int) -> int | None:
        entry = self._latest.get(chat_id)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    async def note(self, chat_id: int, message_id: int) -> None:
        current = self._get(chat_id)
        if current is None or message_id > current:
            self._latest[chat_id] = (message_id, self._clock() + self.ttl)
            for waiter in self._waiters.get(chat_id, ()):
                waiter.set()
        if len(self._latest) > self._max_chats:
            now = self._clock()
            for chat in [c for c, (_, expiry) in self._latest.items() if expiry <= now]:
                del self._latest[chat]

    def _newer(self, chat_id: int, message_id: int) -> bool:
        latest = self._get(chat_id)
        return latest is not None and latest > message_id

    async def newer(self, chat_id: int, message_id: int, wait: float = 0.0) -> bool:
        if self._newer(chat_id, message_id) or wait <= 0:
            return self._newer(chat_id, message_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        waiter = asyncio.Event()
        self._waiters.setdefault(chat_id, set()).add(waiter)
        try:
            while (remaining := deadline - loop.time()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), remaining)
                waiter.clear()
                if self._newer(chat_id, message_id):
                    return True
            return False
        finally:
            waiters = self._waiters[chat_id]
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[chat_id]

    def __len__(self) -> int:
        return len(self._latest)


# Keeps the greater id; the key lives ARGV[2] ms after the last message.
_NOTE_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class RedisLatest:
    """`redis` is a `redis.asyncio.Redis` client; keys are `prefix + "latest:" + chat`."""

    def __init__(
        self, redis: Any, prefix: str = "tg:", ttl: float = LATEST_TTL, poll: float = REDIS_POLL
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.poll = poll
        self._note = redis.register_script(_NOTE_LUA)

    def _key(self, chat_id: int) -> str:
        return f"{self.prefix}latest:{chat_id}"

    async def note(self, chat_id: int, message_id: int) -> None:
        await self._note(keys=[self._key(chat_id)], args=[message_id, int(self.ttl * 1000)])

    async def _newer(self, chat_id: int, message_id: int) -> bool:
        raw = await self.redis.get(self._key(chat_id))
        return raw is not None and int(raw) > message_id

    async def newer(self, chat_id: int, message_id: int, wait: float = 0.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if await self._newer(chat_id, message_id):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self.poll, remaining))


class Outage(Protocol):
    """Whether Redis answers (actions/state.py `Outage`, shared by the
    Redis-backed parts of the pipeline, bot/fallback.py)."""

    def usable(self) -> bool: ...

    def failed(self, exc: BaseException, part: str) -> None: ...

    def succeeded(self) -> None: ...


def _store_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)


class FallbackLatest:
    """Redis while it answers, process memory while it does not (this
    worker's messages only: a burst split between workers is then answered
    piece by piece, as before). Every message is noted in memory as well, so
    memory can take over in the middle of a wait."""

    def __init__(self, primary: Latest, outage: Outage, memory: MemoryLatest | None = None) -> None:
        self.primary = primary
        self.outage = outage
        self.memory = memory or MemoryLatest()
        self._errors = _store_errors()

    async def note(self, chat_id: int, message_id: int) -> None:
        await self.memory.note(chat_id, message_id)
        if self.outage.usable():
            try:
                await self.primary.note(chat_id, message_id)
            except self._errors as exc:
                self.outage.failed(exc, "burst reading")
            else:
                self.outage.succeeded()

    async def newer(self, chat_id: int, message_id: int, wait: float = 0.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        if self.outage.usable():
            try:
                found = await self.primary.newer(chat_id, message_id, wait)
            except self._errors as exc:
                self.outage.failed(exc, "burst reading")
            else:
                self.outage.succeeded()
                return found
        return await self.memory.newer(chat_id, message_id, max(0.0, deadline - loop.time()))


def latest_beside(claims: Claims) -> Latest:
    """Where the latest message ids live when nobody said: where the claims
    are. In Redis when they are (several workers), with the same fall-back
    to memory while Redis is away; in process memory otherwise."""
    primary = getattr(claims, "primary", claims)  # bot/fallback.py FallbackClaims
    if not isinstance(primary, RedisClaims):
        return MemoryLatest()
    latest = RedisLatest(primary.redis, primary.prefix)
    outage: Outage | None = getattr(claims, "outage", None)
    return latest if outage is None else FallbackLatest(latest, outage)


class Bursts:
    """What the dialogue handler needs: the latest message ids and the policy."""

    def __init__(self, latest: Latest, policy: BurstPolicy | None = None) -> None:
        self.latest = latest
        self.policy = policy or BurstPolicy()

    def may_be_fragment(self, text: str, intent: str | None) -> bool:
        """Whether the reply to `text`, read as `intent`, may wait for the
        rest of a burst."""
        return intent in HELD_INTENTS and self.policy.wait > 0 and len(text) < self.policy.max_chars

    async def superseded(self, bot: Bot, chat_id: int, message_id: int) -> bool:
        """Wait up to `policy.wait` for a newer message in the chat (typing
        meanwhile); True when one came: this message's reply is not sent."""
        try:
            if await self.latest.newer(chat_id, message_id):
                return True
            typing = asyncio.create_task(_typing(bot, chat_id), name="burst-typing")
            try:
                return await self.latest.newer(chat_id, message_id, self.policy.wait)
            finally:
                # Not after the reply: the indicator would stay on for 5 s.
                typing.cancel()
        except Exception:
            # Better a noise reply than none.
            log.warning("newer message not looked up; reply sent", exc_info=True)
            return False


async def _typing(bot: Bot, chat_id: int) -> None:
    try:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
    except Exception as exc:  # only a courtesy
        log.debug("typing not shown: %s", exc)
