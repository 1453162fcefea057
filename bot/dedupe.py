"""Claims: "the first to ask gets it" keys with a lifetime.

Used to process each Telegram update once (a webhook update Telegram
redelivers, or the same update reaching two workers), to act on one press
of a keyboard, and to send one flood notice. In Redis this is `SET NX` with
a TTL, so several workers share the answer; in memory otherwise.

Updates use a two-stage claim (`begin` / `finish`): while an update is
being handled its key says *handling*, by whom, with a short lease
(HANDLING_TTL) that the handler renews while it works (`Renewals`); once
handled it says *done* for UPDATE_TTL. A process that dies mid-update
leaves a *handling* claim that lapses within HANDLING_TTL, after which the
update (which was not confirmed to Telegram) is handled again: at least
once across a crash, once otherwise.

The plain claims an update's handlers take (one press per keyboard, one
flood notice) are marked with that update's id (`CURRENT_UPDATE`, set by
the de-duplication middleware): when the update is handled again after a
crash, its own earlier claims are granted to it again, or the redelivered
press would be taken for a second press of the same keyboard and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Telegram keeps an unconfirmed update for 24 hours; remember ours longer.
UPDATE_TTL = 48 * 3600.0
# The lease of an update being handled: renewed every third of it while the
# handler works, it lapses this long after its owner died.
HANDLING_TTL = 10.0

_HANDLING = "h:"  # + the owner's instance id
_DONE = "d"

# This process, in the claims it holds (a restarted process is another one).
INSTANCE = secrets.token_hex(6)

# The update being handled (set by bot/middlewares/dedupe.py), which plain
# claims are taken for.
CURRENT_UPDATE: ContextVar[int | None] = ContextVar("current_update", default=None)


def _claimant() -> str:
    update_id = CURRENT_UPDATE.get()
    return "1" if update_id is None else f"u:{update_id}"


class Stage(enum.Enum):
    NEW = "new"  # claimed now by the caller: handle it, then `finish`
    DONE = "done"  # handled already: drop it
    BUSY = "busy"  # someone else is handling it: not now, not confirmed


@dataclass(frozen=True)
class Begun:
    stage: Stage
    retry_after: float = 0.0  # BUSY: seconds until the other's lease lapses (at most)


@dataclass(frozen=True)
class Busy:
    """What the update pipeline returns for an update someone else is
    handling: the poller looks again later, a webhook answers non-2xx."""

    update_id: int
    retry_after: float


class Claims(Protocol):
    async def claim(self, key: str, ttl: float) -> bool:
        """True for the first caller of `key` within `ttl` seconds, False after
        (but True again for the update that took it, handled once more)."""
        ...

    async def begin(self, key: str, ttl: float = HANDLING_TTL) -> Begun:
        """Claim `key` as being handled by this process for `ttl` seconds
        (NEW), unless it is done (DONE) or someone's handling it (BUSY)."""
        ...

    async def renew(self, key: str, ttl: float = HANDLING_TTL) -> bool:
        """Extend this process's handling claim; False if it is not ours any more."""
        ...

    async def finish(self, key: str, ttl: float = UPDATE_TTL) -> None:
        """Mark `key` done for `ttl` seconds."""
        ...


class MemoryClaims:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, owner: str = INSTANCE
    ) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, str]] = {}  # key -> (expiry, value)
        self._next_purge = 0.0
        self.owner = _HANDLING + owner

    def _get(self, key: str) -> str | None:
        now = self._clock()
        if now >= self._next_purge:
            self._purge(now)
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def _set(self, key: str, value: str, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)

    def holds(self, key: str) -> bool:
        """True while `key` is claimed here (handling or done)."""
        return self._get(key) is not None

    async def claim(self, key: str, ttl: float) -> bool:
        claimant = _claimant()
        value = self._get(key)
        if value is not None:
            return claimant != "1" and value == claimant
        self._set(key, claimant, ttl)
        return True

    async def begin(self, key: str, ttl: float = HANDLING_TTL) -> Begun:
        value = self._get(key)
        if value is None:
            self._set(key, self.owner, ttl)
            return Begun(Stage.NEW)
        if value.startswith(_HANDLING):
            return Begun(Stage.BUSY, max(0.0, self._entries[key][0] - self._clock()))
        return Begun(Stage.DONE)

    async def renew(self, key: str, ttl: float = HANDLING_TTL) -> bool:
        if self._get(key) != self.owner:
            return False
        self._set(key, self.owner, ttl)
        return True

    async def finish(self, key: str, ttl: float = UPDATE_TTL) -> None:
        self._set(key, _DONE, ttl)

    def _purge(self, now: float) -> None:
        for key in [k for k, v in self._entries.items() if v[0] <= now]:
            del self._entries[key]
        self._next_purge = now + 60.0

    def __len__(self) -> int:
        return len(self._entries)


# Extends a handling claim only while it is still the caller's.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisClaims:
    """`redis` is a `redis.asyncio.Redis` client; keys are `prefix + key`."""

    def __init__(self, redis: Any, prefix: str = "tg:", *, owner: str = INSTANCE) -> None:
        self.redis = redis
        self.prefix = prefix
        self.owner = _HANDLING + owner
        self._renew = redis.register_script(_RENEW)

    async def claim(self, key: str, ttl: float) -> bool:
        claimant = _claimant()
        name = self.prefix + key
        if await self.redis.set(name, claimant, nx=True, px=_ms(ttl)):
            return True
        if claimant == "1":
            return False
        value = await self.redis.get(name)
        if isinstance(value, bytes):
            value = value.decode()
        return value == claimant

    async def begin(self, key: str, ttl: float = HANDLING_TTL) -> Begun:
        name = self.prefix + key
        for _ in range(3):
            if await self.redis.set(name, self.owner, nx=True, px=_ms(ttl)):
                return Begun(Stage.NEW)
            async with self.redis.pipeline(transaction=False) as pipe:
                value, pttl = await pipe.get(name).pttl(name).execute()
            if value is None:
                continue  # it lapsed in between: try again
            if isinstance(value, bytes):
                value = value.decode()
            if str(value).startswith(_HANDLING):
                return Begun(Stage.BUSY, max(0, int(pttl)) / 1000)
            return Begun(Stage.DONE)  # "d", or "1" from a plain `claim`
        return Begun(Stage.BUSY, 0.0)

    async def renew(self, key: str, ttl: float = HANDLING_TTL) -> bool:
        return bool(await self._renew(keys=[self.prefix + key], args=[self.owner, _ms(ttl)]))

    async def finish(self, key: str, ttl: float = UPDATE_TTL) -> None:
        await self.redis.set(self.prefix + key, _DONE, px=_ms(ttl))


class Renewals:
    """Keeps leases alive while their work is in hand: every `every`
    seconds one task calls the renewal of each lease held (in this event
    loop), instead of a timer per lease."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._held: dict[object, Callable[[], Awaitable[object]]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def keep(self, renew: Callable[[], Awaitable[object]]) -> Iterator[None]:
        token = object()
        self._held[token] = renew
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="lease-renewals")
        try:
            yield
        finally:
            del self._held[token]

    async def _run(self) -> None:
        while self._held:
            await asyncio.sleep(self.every)
            renewals = list(self._held.values())
            if not renewals:
                break
            results = await asyncio.gather(*(r() for r in renewals), return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.warning("lease not renewed: %s: %s", type(result).__name__, result)

    def __len__(self) -> int:
        return len(self._held)
