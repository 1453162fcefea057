"""Getting messages out: retries for every request, and the paced sender
that delivers the outbox (notifications to many citizens).

Telegram limits a bot to about one message a second in one chat and about
30 a second in all, and answers 429 with `retry_after` beyond that; it also
has the odd 5xx and timeout. `RetryRequests` (a session middleware, so it
covers every call the bot makes) waits `retry_after` and tries again, and
retries 5xx and network errors with exponential backoff. `PacedSender`
keeps notifications under those limits in the first place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keyboards import buttons_from_json
from bot.periodic import Backoff, describe
from bot.ratelimit import Buckets
from bot.render import send_text
from storage import outbox
from storage.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all, the first included
    max_retry_after: float = 120.0  # a longer 429 wait is given up on
    backoff: float = 0.5  # first wait after a 5xx / network error, doubled each time
    max_backoff: float = 8.0


class RetryRequests(BaseRequestMiddleware):
    """Session middleware: honour 429 `retry_after`; retry 5xx and timeouts."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ == GetUpdates.__api_method__:
            # Polling has its own backoff, and a long poll must not be held up here.
            return await make_request(bot, method)
        p = self.policy
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt >= p.attempts or exc.retry_after > p.max_retry_after:
                    raise
                delay = float(exc.retry_after)
                log.warning("%s: 429, retrying in %.0f s", method.__api_method__, delay)
            except (TelegramServerError, TelegramNetworkError) as exc:
                if isinstance(exc, TelegramEntityTooLarge) or attempt >= p.attempts:
                    raise
                delay = min(p.max_backoff, p.backoff * 2 ** (attempt - 1))
                delay *= random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not crypto
                log.warning(
                    "%s: %s, retry %d in %.1f s",
                    method.__api_method__,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
            await self.sleep(delay)
            attempt += 1


@dataclass(frozen=True)
class Pace:
    per_chat: float = 1.0  # messages a second to one chat
    total: float = 25.0  # messages a second in all (Telegram's limit is ~30)
    concurrency: int = 8  # sends in flight at once
    batch: int = 200  # chats looked at per pass
    idle: float = 1.0  # seconds between looks at an empty outbox
    lease: float = 120.0  # a send taking longer than this is given up as unknown
    max_attempts: int = 5  # sends that failed for sure, before a row is failed
    retry_base: float = 0.25  # after a failed pass (database, Redis): first wait, doubled
    retry_cap: float = 2.0  # ... up to this: the outbox is looked at again soon after recovery


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class PacedSender:
    """Delivers the outbox at most `pace.per_chat` a second per chat and
    `pace.total` a second overall (both shared through Redis when the
    buckets are), oldest first, each chat's messages in order. Safe to run
    in several workers: a row is taken with a conditional UPDATE."""

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        buckets: Buckets,
        pace: Pace | None = None,
        *,
        worker: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.buckets = buckets
        self.pace = pace or Pace()
        self.worker = worker or worker_name()
        self.clock = clock
        self.sent = 0
        self.failures = 0  # passes that failed (database or Redis away), in all
        self._slots = asyncio.Semaphore(self.pace.concurrency)
        self._busy_chats: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Something was just enqueued: look now rather than after `idle`."""
        self._wake.set()

    async def run(self) -> None:
        """Until `stop()`. A pass that fails (the database or Redis away) is
        logged without personal data and retried after a backoff (from
        `pace.retry_base`, doubling, at most `pace.retry_cap`): rows enqueued
        meanwhile go out within `retry_cap` of the recovery."""
        next_recovery = 0.0
        loop = asyncio.get_running_loop()
        backoff = Backoff(self.pace.retry_base, self.pace.retry_cap)
        try:
            while not self._stopping:
                try:
                    if loop.time() >= next_recovery:
                        await self._expire_leases()
                        next_recovery = loop.time() + self.pace.lease / 2
                    pause = await self.pump()
                except Exception as exc:
                    self.failures += 1
                    pause = backoff.next()
                    log.error("outbox: pass failed (%s); next try in %.1f s", describe(exc), pause)
                else:
                    if backoff.failures:
                        log.info("outbox: sending again after %d failed passes", backoff.failures)
                        backoff.reset()
                if pause > 0 and not self._stopping:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            await self._drain()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking rows; let the sends in flight finish and be recorded."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def pump(self) -> float:
        """One pass over the due rows; return how long to wait before the next."""
        now = self.clock()
        async with self.sessions() as session:
            heads = await outbox.due_heads(session, now, self.pace.batch)
        if not heads:
            return self.pace.idle
        soonest = self.pace.idle
        dispatched = 0
        for row in heads:
            if self._stopping:
                break
            if row.chat_id in self._busy_chats:
                continue
            wait = await self.buckets.take(f"pace:chat:{row.chat_id}", self.pace.per_chat, 1)
            if wait > 0:
                soonest = min(soonest, wait)
                continue
            await self._global_token()
            await self._slots.acquire()
            try:
                claimed = await self._claim(row.id)
            except BaseException:
                self._slots.release()  # or a database error would leak a slot for good
                raise
            if not claimed:
                self._slots.release()
                continue
            self._busy_chats.add(row.chat_id)
            task = asyncio.create_task(self._deliver(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            dispatched += 1
        return 0.0 if dispatched else max(soonest, 0.01)

    async def _global_token(self) -> None:
        while (wait := await self.buckets.take("pace:total", self.pace.total, 1)) > 0:
            await asyncio.sleep(wait)

    async def _claim(self, row_id: int) -> bool:
        async with self.sessions() as session, session.begin():
            return await outbox.claim(
                session, row_id, self.worker, self.clock(), timedelta(seconds=self.pace.lease)
            )

    async def _deliver(self, row: outbox.OutboxMessage) -> None:
        try:
            try:
                message = await send_text(
                    self.bot, row.chat_id, row.text, buttons_from_json(row.buttons)
                )
            except (TelegramRetryAfter, TelegramServerError, TelegramNetworkError) as exc:
                # Retried already by RetryRequests; Telegram did not take it. Later.
                await self._release(row, exc, retry=True)
            except TelegramAPIError as exc:
                # Blocked by the user, chat gone, bad request: sending again won't help.
                await self._release(row, exc, retry=False)
            else:
                async with self.sessions() as session, session.begin():
                    ok = await outbox.mark_sent(
                        session, row.id, self.worker, self.clock(), message.message_id
                    )
                if ok:
                    self.sent += 1
                else:
                    log.warning("outbox %s sent but no longer ours to mark", row.id)
        except Exception as exc:
            log.error("outbox %s: delivery not recorded (%s)", row.id, describe(exc))
        finally:
            self._busy_chats.discard(row.chat_id)
            self._slots.release()

    async def _release(self, row: outbox.OutboxMessage, exc: Exception, *, retry: bool) -> None:
        attempts = row.attempts + 1
        retry_at: datetime | None = None
        if retry and attempts < self.pace.max_attempts:
            retry_at = self.clock() + timedelta(seconds=min(600, 5 * 2**attempts))
        error = f"{type(exc).__name__}: {getattr(exc, 'message', '')}"
        log.warning("outbox %s not sent (%s); %s", row.id, error, "later" if retry_at else "failed")
        async with self.sessions() as session, session.begin():
            await outbox.release(session, row.id, self.worker, error, retry_at=retry_at)

    async def _expire_leases(self) -> None:
        async with self.sessions() as session, session.begin():
            lost = await outbox.expire_leases(session, self.clock())
        if lost:
            log.warning("outbox: %d rows interrupted mid-send, marked unknown", lost)
