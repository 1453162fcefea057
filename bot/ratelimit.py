"""Token buckets: the flood guard for citizens' messages and the pace of
outgoing notifications.

One algorithm, two homes: in process memory (one worker, the default) and in
Redis (several workers share one budget; the bucket is updated by a Lua
script so two workers never spend the same token, and Redis' own clock is
used so workers' clocks need not agree).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.dedupe import Claims


class Buckets(Protocol):
    async def take(self, key: str, rate: float, capacity: float) -> float:
        """Spend one token of bucket `key` (refilled at `rate` per second, at
        most `capacity` tokens). Return 0 when spent, otherwise the seconds to
        wait until a token is available (nothing is spent then)."""
        ...


class MemoryBuckets:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, last update, when the bucket will be full again)
        self._buckets: dict[str, tuple[float, float, float]] = {}

    async def take(self, key: str, rate: float, capacity: float) -> float:
        now = self._clock()
        tokens, stamp, _ = self._buckets.get(key, (capacity, now, now))
        tokens = min(capacity, tokens + max(0.0, now - stamp) * rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate
        self._buckets[key] = (tokens, now, now + (capacity - tokens) / rate)
        if len(self._buckets) > self._max_keys:
            # A full bucket carries no information: forget those.
            for k in [k for k, v in self._buckets.items() if v[2] <= now]:
                del self._buckets[k]
        return wait


_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisBuckets:
    """`redis` is a `redis.asyncio.Redis` client; keys are `prefix + key`."""

    def __init__(self, redis: Any, prefix: str = "tg:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._take = redis.register_script(_TAKE_LUA)

    async def take(self, key: str, rate: float, capacity: float) -> float:
        raw = await self._take(keys=[self.prefix + "bucket:" + key], args=[rate, capacity])
        return float(raw.decode() if isinstance(raw, bytes) else raw)


@dataclass(frozen=True)
class FloodPolicy:
    """A citizen may send `burst` messages at once, then one every
    1/`rate` seconds; beyond that the messages are dropped and one notice is
    sent per `notice_every` seconds.

    People type a question on a phone in pieces, eight or ten messages in a
    few seconds ("здравствуйте", "у меня вопрос", "я потеряла диплом"...):
    such a burst passes whole (bot/bursts.py reads it as one message); thirty
    in a row do not."""

    burst: float = 10
    rate: float = 0.5
    notice_every: float = 60.0
    # Button presses cost no NLU parse, and a person filling a form taps
    # several in a row: a bucket of their own, more generous.
    press_burst: float = 20
    press_rate: float = 2.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    notify: bool = False


class FloodGuard:
    def __init__(self, buckets: Buckets, claims: Claims, policy: FloodPolicy | None = None):
        self.buckets = buckets
        self.claims = claims
        self.policy = policy or FloodPolicy()

    async def check(self, user_id: int, press: bool = False) -> Verdict:
        p = self.policy
        if press:
            wait = await self.buckets.take(f"flood-press:{user_id}", p.press_rate, p.press_burst)
        else:
            wait = await self.buckets.take(f"flood:{user_id}", p.rate, p.burst)
        if wait == 0:
            return Verdict(True)
        first = await self.claims.claim(f"flood-notice:{user_id}", p.notice_every)
        return Verdict(False, notify=first)
