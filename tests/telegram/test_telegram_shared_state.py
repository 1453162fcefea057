"""What workers share: claims (de-duplication), token buckets, per-user
locks. One suite, run against memory and (with TEST_REDIS_URL) real Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.dedupe import Claims, MemoryClaims, RedisClaims
from bot.middlewares.ordering import UserLocks
from bot.ratelimit import Buckets, FloodGuard, FloodPolicy, MemoryBuckets, RedisBuckets
from tests.telegram.tg_support import TEST_REDIS_URL, new_id


def claims_for(redis: Any) -> Claims:
    return MemoryClaims() if redis is None else RedisClaims(redis, prefix=f"test:{new_id()}:")


def buckets_for(redis: Any) -> Buckets:
    return MemoryBuckets() if redis is None else RedisBuckets(redis, prefix=f"test:{new_id()}:")


def locks_for(redis: Any) -> UserLocks:
    return UserLocks(redis, prefix=f"test:{new_id()}:")


async def test_a_claim_is_granted_once_until_it_expires(redis_or_none: Any) -> None:
    claims = claims_for(redis_or_none)
    results = await asyncio.gather(*(claims.claim("update:1", 0.3) for _ in range(10)))
    assert results.count(True) == 1
    assert await claims.claim("update:2", 0.3)
    await asyncio.sleep(0.4)
    assert await claims.claim("update:1", 0.3)


async def test_two_clients_of_one_redis_share_claims(redis: Any) -> None:
    from redis.asyncio import Redis

    prefix = f"test:{new_id()}:"
    other = Redis.from_url(TEST_REDIS_URL or "")
    try:
        first, second = RedisClaims(redis, prefix), RedisClaims(other, prefix)
        assert await first.claim("update:7", 60)
        assert not await second.claim("update:7", 60)
        ttl = await redis.pttl(prefix + "update:7")
        assert 59_000 < ttl <= 60_000
    finally:
        await other.aclose()


async def test_bucket_allows_a_burst_then_the_rate(redis_or_none: Any) -> None:
    buckets = buckets_for(redis_or_none)
    waits = [await buckets.take("k", rate=10, capacity=3) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert all(0 < w <= 0.1 + 1e-6 for w in waits[3:])
    await asyncio.sleep(0.12)
    assert await buckets.take("k", rate=10, capacity=3) == 0
    assert await buckets.take("other", rate=10, capacity=3) == 0


async def test_pacing_through_a_bucket_holds_the_rate(redis_or_none: Any) -> None:
    buckets = buckets_for(redis_or_none)
    started = time.monotonic()
    for _ in range(6):
        while (wait := await buckets.take("pace", rate=20, capacity=1)) > 0:
            await asyncio.sleep(wait)
    # One at once, then one every 50 ms.
    assert time.monotonic() - started >= 0.25 - 0.02


async def test_flood_guard_notices_once(redis_or_none: Any) -> None:
    guard = FloodGuard(
        buckets_for(redis_or_none),
        claims_for(redis_or_none),
        FloodPolicy(burst=3, rate=0.5, notice_every=60),
    )
    user = new_id()
    verdicts = [await guard.check(user) for _ in range(20)]
    assert [v.allowed for v in verdicts[:3]] == [True, True, True]
    assert not any(v.allowed for v in verdicts[3:])
    assert sum(v.notify for v in verdicts) == 1
    assert (await guard.check(new_id())).allowed  # others are not held up


async def test_user_lock_serialises_one_user_in_arrival_order(redis_or_none: Any) -> None:
    locks = locks_for(redis_or_none)
    order: list[int] = []
    inside = 0
    most = 0

    async def work(i: int) -> None:
        nonlocal inside, most
        async with locks.hold(42):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            order.append(i)
            inside -= 1

    await asyncio.gather(*(work(i) for i in range(10)))
    assert most == 1
    assert order == list(range(10))
    assert len(locks) == 0


async def test_user_lock_does_not_hold_up_other_users(redis_or_none: Any) -> None:
    locks = locks_for(redis_or_none)
    release = asyncio.Event()

    async def hog() -> None:
        async with locks.hold(1):
            await release.wait()

    task = asyncio.create_task(hog())
    await asyncio.sleep(0.05)
    async with asyncio.timeout(1):
        async with locks.hold(2):
            pass
    release.set()
    await task


async def test_redis_lock_excludes_another_worker(redis: Any) -> None:
    prefix = f"test:{new_id()}:"
    worker_a, worker_b = UserLocks(redis, prefix), UserLocks(redis, prefix)
    inside: list[str] = []
    overlap = False

    async def work(locks: UserLocks, name: str) -> None:
        nonlocal overlap
        for _ in range(5):
            async with locks.hold(7):
                overlap = overlap or bool(inside)
                inside.append(name)
                await asyncio.sleep(0.01)
                inside.remove(name)

    await asyncio.gather(work(worker_a, "a"), work(worker_b, "b"))
    assert not overlap


async def test_memory_claims_forget_expired_keys() -> None:
    now = [0.0]
    claims = MemoryClaims(clock=lambda: now[0])
    for i in range(100):
        await claims.claim(f"k{i}", 1.0)
    assert len(claims) == 100
    now[0] = 120.0
    assert await claims.claim("fresh", 1.0)
    assert len(claims) == 1
