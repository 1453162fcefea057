"""One citizen's updates are handled one at a time, in the order they came.

aiogram handles updates concurrently (polling runs each as a task; webhook
requests arrive in parallel) and its event isolation is off by default, so
two messages of one user could otherwise overtake each other and race on
the conversation state.

Two levels:
* an `asyncio.Lock` per user in this process. It is taken before the first
  `await` of the update's processing, and asyncio locks wake waiters in
  FIFO order, so updates of one user run in the order this worker received
  them;
* when Redis is configured, a Redis lock per user as well, so two workers
  never handle the same user's updates at the same time. Its lease is
  short (LOCK_TTL) and renewed while the update is handled, so the lock of
  a process that died (SIGKILL, OOM) frees itself within LOCK_TTL instead
  of holding that citizen's next update up to `wait`.

The middleware also counts updates in flight so that shutdown can wait for
them instead of cutting a reply in half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

from actions.state import Outage, shared_store_errors
from bot.dedupe import Renewals

log = logging.getLogger(__name__)

# The Redis lock's lease: renewed every third of it while the update is in
# hand; it lapses this long after its holder died.
LOCK_TTL = 10.0


class UserLocks:
    """Per-user mutual exclusion: local FIFO locks, plus Redis when given."""

    def __init__(
        self,
        redis: Any = None,
        prefix: str = "tg:",
        *,
        lock_ttl: float = LOCK_TTL,
        wait: float = 30.0,
        outage: Outage | None = None,
    ) -> None:
        self.redis = redis
        # While Redis is unreachable the local lock alone orders a citizen's
        # updates (one worker's view: best effort), instead of failing them.
        self.outage = outage or Outage()
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self.wait = wait
        self._local: dict[int, tuple[asyncio.Lock, int]] = {}
        self.renewals = Renewals(lock_ttl / 3)

    @contextlib.asynccontextmanager
    async def hold(self, user_id: int) -> AsyncIterator[None]:
        lock, users = self._local.get(user_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._local[user_id] = (lock, users + 1)
        try:
            async with lock:
                if self.redis is None:
                    yield
                else:
                    async with self._shared(user_id):
                        yield
        finally:
            lock, users = self._local[user_id]
            if users <= 1:
                del self._local[user_id]
            else:
                self._local[user_id] = (lock, users - 1)

    @contextlib.asynccontextmanager
    async def _shared(self, user_id: int) -> AsyncIterator[None]:
        from redis.exceptions import LockError, RedisError

        if not self.outage.usable():
            yield  # Redis away: this worker's lock only
            return
        lock = self.redis.lock(
            f"{self.prefix}lock:{user_id}",
            timeout=self.lock_ttl,
            sleep=0.02,
            blocking_timeout=self.wait,
            thread_local=False,
        )
        reached = True
        try:
            acquired = await lock.acquire()
        except shared_store_errors() as exc:
            self.outage.failed(exc, "per-citizen locks")
            reached = acquired = False
        if not reached:
            yield
            return
        self.outage.succeeded()
        if not acquired:
            # Better an answer out of order than no answer: go on unlocked.
            log.warning("user lock not acquired within %.0f s; handling anyway", self.wait)

        async def renew() -> None:
            # The full lock_ttl again, if still ours (else released meanwhile,
            # or lapsed: the warning comes at release).
            with contextlib.suppress(LockError, *shared_store_errors()):
                await lock.reacquire()

        try:
            if acquired:
                with self.renewals.keep(renew):
                    yield
            else:
                yield
        finally:
            if acquired:
                try:
                    await lock.release()
                except LockError:
                    # It lapsed (not renewed for lock_ttl: Redis or the loop stalled).
                    log.warning("user lock expired before release")
                except (RedisError, OSError) as exc:
                    # Not freed now, it frees itself after lock_ttl; the reply is out.
                    self.outage.failed(exc, "per-citizen locks")

    def __len__(self) -> int:
        return len(self._local)


class InFlight:
    """Counts updates being handled; `drained()` waits until none is. Also
    remembers the highest update id taken, for the poller to confirm it to
    Telegram before it stops."""

    def __init__(self) -> None:
        self.count = 0
        self.last_update_id: int | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def drained(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class UserOrderMiddleware(BaseMiddleware):
    """Outer middleware on `dp.update`, right after aiogram's user context."""

    def __init__(self, locks: UserLocks, in_flight: InFlight | None = None) -> None:
        self.locks = locks
        self.in_flight = in_flight or InFlight()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if isinstance(event, Update):
            last = self.in_flight.last_update_id
            if last is None or event.update_id > last:
                self.in_flight.last_update_id = event.update_id
        with self.in_flight.track():
            if user is None:
                return await handler(event, data)
            async with self.locks.hold(user.id):
                return await handler(event, data)
