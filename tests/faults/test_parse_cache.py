"""The parse cache the bot workers share in Redis: a parse made by one
worker answers the same words at another without a Rasa call, filed under
the model that made it, without the citizen's words or any number in Redis,
and a Redis outage only costs the cache."""

from __future__ import annotations

import logging
import time

import pytest

from nlu.cache import KEY_PREFIX, SharedParseCache
from nlu.light import LightModels
from nlu.pipeline import NLU
from nlu.rasa import RasaClient, RasaServer
from storage.redis import redis_client
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.rasa]

QUESTION = "какие документы нужны для дубликата диплома"


async def _worker(rasa: RasaServer, private_redis: RedisServer, light: LightModels) -> NLU:
    client = RasaClient(rasa.url, rasa.token)
    assert await client.ready()
    nlu = NLU(client, light)
    nlu.shared = SharedParseCache(redis_client(private_redis.url))
    return nlu


async def test_one_workers_parse_answers_another_and_names_no_words(
    rasa_server: RasaServer, private_redis: RedisServer, light: LightModels
) -> None:
    a = await _worker(rasa_server, private_redis, light)
    b = await _worker(rasa_server, private_redis, light)
    try:
        assert a.version and a.version == b.version
        first = await a.parse(QUESTION)
        assert first.source == "rasa" and a.stats.rasa_ok == 1

        second = await b.parse(QUESTION)
        assert b.stats.rasa_ok == 0 and b.stats.shared_hits == 1  # no Rasa call
        assert (second.intent, second.confidence, second.language, second.entities) == (
            first.intent,
            first.confidence,
            first.language,
            first.entities,
        )
        assert second.text == first.text and second.normalized == first.normalized

        # Numbers (an IIN, a phone) never reach the shared cache.
        await a.parse("мой иин 900101300123 какой статус заявки")
        store = redis_client(private_redis.url)
        keys = [k.decode() async for k in store.scan_iter(f"{KEY_PREFIX}*")]
        assert len(keys) == 1 and a.version in keys[0]
        stored = (await store.get(keys[0])).decode()
        assert "дубликат" not in stored and "дубликат" not in keys[0]
        assert "900101300123" not in stored
        assert 0 < await store.ttl(keys[0]) <= 7 * 24 * 3600
        await store.aclose()

        # Another model (a rollout): its parses are its own.
        assert isinstance(b.client, RasaClient)
        b.client.model_id = "another-model"
        again = await b.parse(QUESTION)
        assert again.source == "rasa" and b.stats.rasa_ok == 1
    finally:
        await a.close()
        await b.close()


async def test_redis_down_costs_only_the_cache(
    rasa_server: RasaServer,
    private_redis: RedisServer,
    light: LightModels,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nlu = await _worker(rasa_server, private_redis, light)
    assert nlu.shared is not None
    try:
        private_redis.stop()
        caplog.set_level(logging.WARNING, logger="nlu.cache")
        started = time.perf_counter()
        results = [
            await nlu.parse(q)
            for q in ("где подать на грант", "грантқа қайда тапсырамын", "сроки гранта")
        ]
        spent = time.perf_counter() - started
        assert [r.source for r in results] == ["rasa"] * 3
        # One lookup waited for Redis; the next ones did not ask it.
        assert nlu.shared.stats.errors == 1
        assert spent < 3 * 0.5, spent
        warnings = [r for r in caplog.records if "Parse cache" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        await nlu.close()
