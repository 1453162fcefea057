"""Health and readiness of a bot worker, for the load balancer and monitoring.

`/healthz` (bot/telegram.py) says the process lives and what it went
through; `/readyz` says whether it can do its work now: ready only when the
database, Redis (when configured) and at least one Rasa server answer. A
balancer sends no updates to a worker that is not ready; Telegram's retries
and the other workers cover it meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nlu.pipeline import NLU
from nlu.rasa import RasaPool

# A check that takes longer than this counts as failed.
CHECK_TIMEOUT = 2.0


async def readiness(
    sessions: async_sessionmaker[AsyncSession], redis: Any, nlu: NLU
) -> dict[str, bool]:
    """Each part this worker needs, and whether it answers now."""

    async def database() -> bool:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
        return True

    async def shared() -> bool:
        return bool(await redis.ping())

    async def rasa() -> bool:
        return nlu.client is not None and await nlu.client.ready()

    checks: dict[str, Awaitable[bool]] = {"database": database(), "nlu": rasa()}
    if redis is not None:
        checks["redis"] = shared()
    answers = await asyncio.gather(
        *(asyncio.wait_for(check, CHECK_TIMEOUT) for check in checks.values()),
        return_exceptions=True,
    )
    return {name: answer is True for name, answer in zip(checks, answers, strict=True)}


def nlu_status(nlu: NLU) -> dict[str, Any]:
    """What the understanding did since the start (for /healthz)."""
    stats = nlu.stats
    status: dict[str, Any] = {
        "rasa_ok": stats.rasa_ok,
        "rasa_failed": stats.rasa_failed,
        "degraded": stats.degraded,
        "slow": stats.slow,
        "cache_hits": stats.cache_hits,
        "shared_cache_hits": stats.shared_hits,
    }
    if nlu.shared is not None:
        status["shared_cache_hit_rate"] = round(nlu.shared.stats.hit_rate, 3)
    client = nlu.client
    if isinstance(client, RasaPool):
        status["servers"] = {m.client.url: "in" if m.up else "out" for m in client.members}
    return status
