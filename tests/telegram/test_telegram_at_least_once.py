"""At-least-once handling: the poller confirms an update to Telegram only
once it was handled, the two-stage update claim (handling, then done)
hands an update over when its handler died, and the Redis per-user lock of
a dead process frees itself within its short lease.

The process-level checks (SIGKILL mid-update, restart) are in
tests/faults/test_sigkill.py; here the poll loop runs in the test's event
loop against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import ErrorEvent, Message

from bot.dedupe import CURRENT_UPDATE, Busy, Claims, MemoryClaims, RedisClaims, Renewals, Stage
from bot.middlewares.dedupe import UpdateDedupeMiddleware
from bot.middlewares.ordering import InFlight, UserLocks, UserOrderMiddleware
from bot.telegram import Poller, make_bot
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import FAST_RETRY, new_id


def claims_for(redis: Any, owner: str = "test") -> Claims:
    if redis is None:
        return MemoryClaims(owner=owner)
    return RedisClaims(redis, prefix=f"test:{new_id()}:", owner=owner)


def as_dead(claims: Claims) -> Claims:
    """The same store, seen by another process (the one that died)."""
    if isinstance(claims, RedisClaims):
        return RedisClaims(claims.redis, claims.prefix, owner="dead")
    assert isinstance(claims, MemoryClaims)
    dead = MemoryClaims(owner="dead")
    dead._entries = claims._entries  # one dict: one store
    return dead


@pytest.fixture
async def tg() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    async with FakeTelegram() as fake:
        bot = make_bot(f"{new_id()}:TEST", fake.url, retry=FAST_RETRY)
        try:
            yield fake, bot
        finally:
            await bot.session.close()


class Pipeline:
    """A dispatcher with the production ordering and de-duplication
    middlewares and one message handler the test steers."""

    def __init__(self, claims: Claims, locks: UserLocks | None = None) -> None:
        self.claims = claims
        self.handled: list[str] = []
        self.errors: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.fail: set[str] = set()
        self.release: set[str] = set()  # handlers that release their update first
        self.dp = Dispatcher()
        self.dp.update.outer_middleware(UserOrderMiddleware(locks or UserLocks(), InFlight()))
        self.dp.update.outer_middleware(UpdateDedupeMiddleware(claims, handling_ttl=0.6))
        self.dp.message.register(self._on_message)
        self.dp.errors.register(self._on_error)

    def gate(self, text: str) -> asyncio.Event:
        self.entered[text] = asyncio.Event()
        self.gates[text] = asyncio.Event()
        return self.gates[text]

    async def _on_message(
        self, message: Message, release_update: Callable[[], None] | None = None
    ) -> None:
        text = message.text or ""
        if text in self.release and release_update is not None:
            release_update()
        if text in self.entered:
            self.entered[text].set()
        if text in self.gates:
            await self.gates[text].wait()
        if text in self.fail:
            raise RuntimeError("boom")
        self.handled.append(text)

    async def _on_error(self, event: ErrorEvent) -> bool:
        self.errors.append(str(event.exception))
        return True


class Running:
    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.task = asyncio.create_task(poller.run())

    async def stop(self, grace: float = 5.0) -> bool:
        self.poller.stopping.set()
        await asyncio.wait_for(self.task, 5)
        drained = await self.poller.drain(grace)
        await self.poller.confirm()
        return drained


def offsets(fake: FakeTelegram, since: int = 0) -> list[int]:
    return [int(c.params.get("offset") or 0) for c in fake.of("getUpdates", since=since)]


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


def poller(pipeline: Pipeline, bot: Bot, **kw: Any) -> Poller:
    kw.setdefault("timeout", 1)
    return Poller(pipeline.dp, bot, **kw)


# -- the offset -----------------------------------------------------------------------------------
async def test_the_offset_never_passes_an_update_in_hand(
    tg: tuple[FakeTelegram, Bot],
) -> None:
    fake, bot = tg
    pipeline = Pipeline(MemoryClaims())
    slow = pipeline.gate("slow")
    user_a, user_b = new_id(), new_id()
    first, second = fake.text(user_a, "slow"), fake.text(user_b, "quick")
    running = Running(poller(pipeline, bot))
    try:
        fake.push(first, second)
        await until(lambda: pipeline.handled == ["quick"])  # not held up by the slow one
        mark = fake.mark()
        await asyncio.sleep(1.5)
        polls = offsets(fake, since=mark)
        # While "slow" is in hand every poll asks from it: it stays unconfirmed.
        assert polls and all(o == first["update_id"] for o in polls), polls
        # ... without a busy loop: Telegram answers those polls at once, the
        # poller waits SKIP_WAIT (0.3 s) between them.
        assert 3 <= len(polls) <= 8, len(polls)
        slow.set()
        await until(lambda: pipeline.handled == ["quick", "slow"])
        await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == second["update_id"] + 1
        )
        assert fake.pending() == 0  # both confirmed
    finally:
        await running.stop()
    assert pipeline.handled == ["quick", "slow"]  # once each


async def test_a_finished_update_wakes_the_poller_at_once(
    tg: tuple[FakeTelegram, Bot],
) -> None:
    fake, bot = tg
    pipeline = Pipeline(MemoryClaims())
    gate = pipeline.gate("wait")
    update = fake.text(new_id(), "wait")
    running = Running(poller(pipeline, bot, skip_wait=5.0))
    try:
        fake.push(update)
        await pipeline.entered["wait"].wait()
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        released = loop.time()
        gate.set()
        [confirming] = await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == update["update_id"] + 1
        )
        assert confirming.arrived - released < 1.0  # not after skip_wait (5 s)
    finally:
        await running.stop()


async def test_a_released_update_holds_nothing_back(tg: tuple[FakeTelegram, Bot]) -> None:
    """A greeting's reply waits for the rest of a burst (bot/bursts.py); its
    handler releases the update first: the poller confirms it and goes on at
    once instead of asking Telegram for it again and again."""
    fake, bot = tg
    pipeline = Pipeline(MemoryClaims())
    held = pipeline.gate("здравствуйте")
    pipeline.release.add("здравствуйте")
    greeting = fake.text(new_id(), "здравствуйте")
    running = Running(poller(pipeline, bot, skip_wait=5.0))
    try:
        fake.push(greeting)
        await pipeline.entered["здравствуйте"].wait()
        await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == greeting["update_id"] + 1
        )
        assert not held.is_set() and pipeline.handled == []  # still in its handler
        question = fake.text(new_id(), "где сделать дубликат?")
        fake.push(question)
        await until(lambda: pipeline.handled == ["где сделать дубликат?"], timeout=2.0)
        held.set()
        await until(lambda: pipeline.handled == ["где сделать дубликат?", "здравствуйте"])
    finally:
        await running.stop()


async def test_stopping_confirms_what_was_handled_not_what_was_cut_off(
    tg: tuple[FakeTelegram, Bot],
) -> None:
    fake, bot = tg
    pipeline = Pipeline(MemoryClaims())
    pipeline.gate("forever")
    done, stuck = fake.text(new_id(), "done"), fake.text(new_id(), "forever")
    running = Running(poller(pipeline, bot))
    fake.push(done, stuck)
    await until(lambda: pipeline.handled == ["done"])
    await pipeline.entered["forever"].wait()
    assert not await running.stop(grace=0.3)  # "forever" is cut off
    # The last poll confirms up to the cut-off update, not past it.
    assert offsets(fake)[-1] == stuck["update_id"]
    assert fake.pending() == 1


async def test_a_stuck_update_stops_holding_the_offset_after_the_limit(
    tg: tuple[FakeTelegram, Bot],
) -> None:
    fake, bot = tg
    pipeline = Pipeline(MemoryClaims())
    pipeline.gate("stuck")
    stuck = fake.text(new_id(), "stuck")
    running = Running(poller(pipeline, bot, hold_limit=0.5))
    try:
        fake.push(stuck)
        await pipeline.entered["stuck"].wait()
        await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == stuck["update_id"] + 1
        )
        later = fake.text(new_id(), "later")
        fake.push(later)
        await until(lambda: pipeline.handled == ["later"])
    finally:
        pipeline.gates["stuck"].set()
        await running.stop()


async def test_getupdates_failures_back_off_and_recover(tg: tuple[FakeTelegram, Bot]) -> None:
    fake, bot = tg
    pipeline = Pipeline(MemoryClaims())
    fake.fail_next("getUpdates", 2, status=502)
    running = Running(poller(pipeline, bot))
    try:
        fake.push(fake.text(new_id(), "after the outage"))
        await until(lambda: pipeline.handled == ["after the outage"], timeout=15)
    finally:
        await running.stop()
    failed = [c for c in fake.of("getUpdates", ok_only=False) if c.status == 502]
    assert len(failed) >= 2


# -- the two-stage claim --------------------------------------------------------------------------
async def test_begin_renew_finish(redis_or_none: Any) -> None:
    claims = claims_for(redis_or_none)
    dead = as_dead(claims)
    assert (await claims.begin("update:1", 0.4)).stage is Stage.NEW
    assert (await claims.begin("update:1", 0.4)).stage is Stage.BUSY
    busy = await dead.begin("update:1", 0.4)
    assert busy.stage is Stage.BUSY and 0 < busy.retry_after <= 0.4
    assert not await dead.renew("update:1", 5)  # not the dead one's to renew
    assert await claims.renew("update:1", 0.4)
    await claims.finish("update:1", 60)
    assert (await dead.begin("update:1")).stage is Stage.DONE
    assert not await claims.renew("update:1")  # done: nothing to renew
    # A handling claim whose owner stopped renewing it lapses.
    assert (await dead.begin("update:2", 0.3)).stage is Stage.NEW
    await asyncio.sleep(0.35)
    assert (await claims.begin("update:2", 0.3)).stage is Stage.NEW
    # A plain claim on the key (the one-stage format) reads as done.
    assert await claims.claim("update:3", 60)
    assert (await claims.begin("update:3")).stage is Stage.DONE


async def test_an_updates_own_claims_are_granted_to_it_again(redis_or_none: Any) -> None:
    """A press claimed while update 5 was handled (then the process died):
    update 5 handled again gets it; another update (a second press) does
    not, nor does code outside any update."""
    claims = claims_for(redis_or_none)
    token = CURRENT_UPDATE.set(5)
    try:
        assert await claims.claim("press:1:2", 30)
        assert await claims.claim("press:1:2", 30)  # the same update, again
    finally:
        CURRENT_UPDATE.reset(token)
    token = CURRENT_UPDATE.set(6)
    try:
        assert not await claims.claim("press:1:2", 30)
    finally:
        CURRENT_UPDATE.reset(token)
    assert not await claims.claim("press:1:2", 30)
    assert await claims.claim("notice:1", 30)
    assert not await claims.claim("notice:1", 30)


async def test_renewals_keep_a_lease_alive_and_stop_with_it() -> None:
    renewals = Renewals(0.05)
    count = 0

    async def renew() -> None:
        nonlocal count
        count += 1

    with renewals.keep(renew):
        await asyncio.sleep(0.3)
    assert 3 <= count <= 7
    assert len(renewals) == 0
    settled = count
    await asyncio.sleep(0.15)
    assert count == settled


async def test_the_lease_outlives_its_ttl_while_the_handler_works(
    redis_or_none: Any, tg: tuple[FakeTelegram, Bot]
) -> None:
    """handling_ttl is 0.6 s; a handler working 1.5 s keeps its claim: a
    second copy of the update (another worker) finds it busy, then done."""
    fake, bot = tg
    claims = claims_for(redis_or_none)
    pipeline = Pipeline(claims)
    gate = pipeline.gate("long")
    update = fake.text(new_id(), "long")
    from aiogram.types import Update

    parsed = Update.model_validate(update, context={"bot": bot})
    first = asyncio.create_task(pipeline.dp.feed_update(bot, parsed))
    await pipeline.entered["long"].wait()
    await asyncio.sleep(1.5)
    other = Pipeline(as_dead(claims))  # another worker, its own locks
    result = await other.dp.feed_update(bot, parsed)
    assert isinstance(result, Busy) and result.update_id == update["update_id"]
    gate.set()
    await first
    assert await other.dp.feed_update(bot, parsed) is None  # done: dropped
    assert pipeline.handled == ["long"] and other.handled == []


async def test_a_failed_update_is_done_not_retried(
    redis_or_none: Any, tg: tuple[FakeTelegram, Bot]
) -> None:
    fake, bot = tg
    claims = claims_for(redis_or_none)
    pipeline = Pipeline(claims)
    pipeline.fail.add("bad")
    update = fake.text(new_id(), "bad")
    running = Running(poller(pipeline, bot))
    try:
        fake.push(update)
        await until(lambda: pipeline.errors == ["boom"])
        await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == update["update_id"] + 1
        )
    finally:
        await running.stop()
    assert (await claims.begin(f"update:{update['update_id']}")).stage is Stage.DONE
    assert pipeline.errors == ["boom"]


async def test_an_update_a_dead_process_held_is_handled_when_its_lease_lapses(
    redis_or_none: Any, tg: tuple[FakeTelegram, Bot]
) -> None:
    fake, bot = tg
    claims = claims_for(redis_or_none)
    pipeline = Pipeline(claims)
    update = fake.text(new_id(), "orphan")
    # The dead process began it (lease 0.8 s) and never finished.
    assert (await as_dead(claims).begin(f"update:{update['update_id']}", 0.8)).stage is Stage.NEW
    loop = asyncio.get_running_loop()
    began = loop.time()
    running = Running(poller(pipeline, bot, busy_retry=0.2))
    try:
        fake.push(update)
        await asyncio.sleep(0.4)
        assert pipeline.handled == []  # busy: not now, and not confirmed
        assert all(o <= update["update_id"] for o in offsets(fake))
        await until(lambda: pipeline.handled == ["orphan"], timeout=5)
        took = loop.time() - began
        assert 0.8 <= took < 2.0, took
        await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == update["update_id"] + 1
        )
    finally:
        await running.stop()
    assert pipeline.handled == ["orphan"]


async def test_an_update_done_elsewhere_is_dropped_and_confirmed(
    redis_or_none: Any, tg: tuple[FakeTelegram, Bot]
) -> None:
    fake, bot = tg
    claims = claims_for(redis_or_none)
    pipeline = Pipeline(claims)
    update = fake.text(new_id(), "twice")
    await as_dead(claims).finish(f"update:{update['update_id']}")
    running = Running(poller(pipeline, bot))
    try:
        fake.push(update)
        await fake.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == update["update_id"] + 1
        )
    finally:
        await running.stop()
    assert pipeline.handled == []


# -- the per-user lock of a dead process ----------------------------------------------------
async def test_a_dead_workers_user_lock_frees_itself_within_its_lease(redis: Any) -> None:
    prefix = f"test:{new_id()}:"
    user = new_id()
    # What the dead process left: the lock, taken and never released or renewed.
    dead = redis.lock(f"{prefix}lock:{user}", timeout=0.8, thread_local=False)
    assert await dead.acquire(blocking=False)
    locks = UserLocks(redis, prefix, lock_ttl=0.8, wait=30)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with locks.hold(user):
        waited = loop.time() - started
    assert 0.3 < waited < 1.2, waited


async def test_a_user_lock_is_renewed_while_held(redis: Any) -> None:
    prefix = f"test:{new_id()}:"
    a, b = UserLocks(redis, prefix, lock_ttl=0.6), UserLocks(redis, prefix, lock_ttl=0.6)
    loop = asyncio.get_running_loop()
    inside = asyncio.Event()
    released_at = 0.0

    async def long_holder() -> None:
        nonlocal released_at
        async with a.hold(7):
            inside.set()
            await asyncio.sleep(1.8)  # three lock_ttl
            released_at = loop.time()

    task = asyncio.create_task(long_holder())
    await inside.wait()
    async with b.hold(7):
        got_at = loop.time()
    await task
    assert got_at >= released_at  # never both
    assert len(a.renewals) == 0
