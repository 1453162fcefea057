"""A worker's readiness for the load balancer: ready only when the database,
Redis and at least one Rasa server answer; each part that does not is named."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.health import nlu_status, readiness
from nlu.light import LightModels
from nlu.pipeline import NLU
from nlu.rasa import RasaClient, RasaPool, RasaServer
from storage.redis import redis_client
from tests.conftest import free_port
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.rasa]


async def test_ready_only_when_every_part_answers(
    sessions: async_sessionmaker[AsyncSession],
    rasa_server: RasaServer,
    private_redis: RedisServer,
    light: LightModels,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    nlu = NLU(RasaPool([dead, rasa_server.url], rasa_server.token), light)
    nobody = NLU(RasaClient(dead, "t", timeout=0.5), light)
    store = redis_client(private_redis.url)
    try:
        # One Rasa server of two is enough.
        assert await readiness(sessions, store, nlu) == {
            "database": True,
            "nlu": True,
            "redis": True,
        }
        assert nlu_status(nlu)["servers"] == {dead: "out", rasa_server.url: "in"}
        assert (await readiness(sessions, store, nobody))["nlu"] is False
        # Without Redis configured, Redis is not asked about.
        assert await readiness(sessions, None, nlu) == {"database": True, "nlu": True}

        private_redis.stop()
        parts = await readiness(sessions, store, nlu)
        assert parts == {"database": True, "nlu": True, "redis": False}
    finally:
        await store.aclose()
        await nlu.close()
        await nobody.close()
