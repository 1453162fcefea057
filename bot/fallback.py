"""Best effort in process memory while Redis is unreachable.

Redis holds what several workers share: update de-duplication, one-press
claims, flood and pacing buckets, per-citizen locks (and the conversation
state, actions/state.py `FallbackStateStore`). None of it is needed to
answer a question, so while Redis does not answer each of these falls back
to its in-memory twin (one worker's view: a redelivered update or a double
press may then be handled twice, limits are per worker) instead of turning
every message into an apology. One `Outage` (shared by all of them) stops
asking Redis for a couple of seconds after a failure, so an outage costs no
wait per message, and says in the log once when Redis goes and once when it
is back.

A key claimed in memory during an outage stays answered from memory (an
update begun there is finished there; a done update is not handled again
after the recovery).
"""

from __future__ import annotations

from actions.state import Outage, shared_store_errors
from bot.dedupe import HANDLING_TTL, UPDATE_TTL, Begun, Claims, MemoryClaims
from bot.ratelimit import Buckets, MemoryBuckets


class FallbackClaims:
    def __init__(
        self, primary: Claims, outage: Outage | None = None, memory: MemoryClaims | None = None
    ) -> None:
        self.primary = primary
        self.outage = outage or Outage()
        self.memory = memory or MemoryClaims()
        self._errors = shared_store_errors()

    def _in_memory(self, key: str) -> bool:
        return self.memory.holds(key) or not self.outage.usable()

    async def claim(self, key: str, ttl: float) -> bool:
        if not self._in_memory(key):
            try:
                got = await self.primary.claim(key, ttl)
            except self._errors as exc:
                self.outage.failed(exc, "claims")
            else:
                self.outage.succeeded()
                return got
        return await self.memory.claim(key, ttl)

    async def begin(self, key: str, ttl: float = HANDLING_TTL) -> Begun:
        if not self._in_memory(key):
            try:
                begun = await self.primary.begin(key, ttl)
            except self._errors as exc:
                self.outage.failed(exc, "update de-duplication")
            else:
                self.outage.succeeded()
                return begun
        return await self.memory.begin(key, ttl)

    async def renew(self, key: str, ttl: float = HANDLING_TTL) -> bool:
        if self.memory.holds(key):
            return await self.memory.renew(key, ttl)
        if not self.outage.usable():
            return True  # begun in Redis, which is away: nothing to renew now
        try:
            renewed = await self.primary.renew(key, ttl)
        except self._errors as exc:
            self.outage.failed(exc, "update de-duplication")
            return True
        self.outage.succeeded()
        return renewed

    async def finish(self, key: str, ttl: float = UPDATE_TTL) -> None:
        if not self._in_memory(key):
            try:
                await self.primary.finish(key, ttl)
            except self._errors as exc:
                self.outage.failed(exc, "update de-duplication")
            else:
                self.outage.succeeded()
                return
        await self.memory.finish(key, ttl)


class FallbackBuckets:
    def __init__(
        self, primary: Buckets, outage: Outage | None = None, memory: MemoryBuckets | None = None
    ) -> None:
        self.primary = primary
        self.outage = outage or Outage()
        self.memory = memory or MemoryBuckets()
        self._errors = shared_store_errors()

    async def take(self, key: str, rate: float, capacity: float) -> float:
        if self.outage.usable():
            try:
                wait = await self.primary.take(key, rate, capacity)
            except self._errors as exc:
                self.outage.failed(exc, "rate limits")
            else:
                self.outage.succeeded()
                return wait
        return await self.memory.take(key, rate, capacity)
