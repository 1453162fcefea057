"""Several Rasa servers behind one bot (NLU_URL lists them): parses are
spread over those that answer, a server that dies is taken out without a
citizen noticing, comes back in once it answers again, and the degraded
classifier answers only when none does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nlu.light import LightModels
from nlu.pipeline import NLU
from nlu.rasa import RasaPool, RasaServer, start_server
from tests.conftest import free_port

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

QUESTIONS = [
    "какие документы нужны для дубликата диплома",
    "дубликат диплома алу үшін қандай құжаттар керек",
    "сколько дней делают дубликат аттестата",
    "грантқа қашан құжат тапсырады",
    "где подать заявление на грант",
    "телнұсқаны қанша күнде береді",
    "список документов на конкурс грантов",
    "грант конкурсының нәтижесі қашан шығады",
    "можно подать документы через егов",
    "аттестаттың телнұсқасына не керек",
    "когда объявят результаты гранта",
    "құжаттарды қайда апарамын",
]
DURING = [
    "документы на дубликат свидетельства",
    "телнұсқаға құжаттар тізімі",
    "до какого числа принимают на грант",
    "грантқа өтініш қайда беріледі",
]
AFTER = [
    "что нужно чтобы получить дубликат",
    "гранттың нәтижесі қай күні",
    "сколько рассматривают заявку на дубликат",
    "шәкіртақы конкурсына қандай құжат керек",
    "можно через центр обслуживания населения подать",
    "диплом жоғалып кетті не істеймін",
]
DURING_INTENTS = [
    "ask_documents",
    "ask_documents",
    "ask_application_period",
    "ask_where_to_apply",
]


@pytest.fixture
async def second(rasa_server: RasaServer, tmp_path: Path) -> AsyncIterator[list[RasaServer]]:
    """A second real Rasa server beside the session's, with the same token."""
    url = f"http://127.0.0.1:{free_port()}"
    started = [await start_server(url, token=rasa_server.token, log_path=tmp_path / "b1.log")]
    yield started
    for server in started:
        await server.stop()


async def test_two_servers_share_the_parses_and_one_dying_is_not_noticed(
    rasa_server: RasaServer,
    second: list[RasaServer],
    light: LightModels,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    b = second[0]
    pool = RasaPool([rasa_server.url, b.url], rasa_server.token, probe_every=0.2)
    nlu = NLU(pool, light, retry_after=0.5)
    first, other = pool.members
    try:
        spread = await asyncio.gather(*(nlu.parse(q) for q in QUESTIONS))
        assert [r.degraded for r in spread] == [False] * len(QUESTIONS)
        assert first.parses > 0 and other.parses > 0, (first.parses, other.parses)
        assert first.parses + other.parses == len(QUESTIONS)

        caplog.set_level(logging.WARNING, logger="nlu.rasa")
        b.kill()  # a crash of one server
        for _ in range(100):
            if b.exited:
                break
            await asyncio.sleep(0.05)
        during = [await nlu.parse(q) for q in DURING]
        # Nobody falls back to the degraded classifier: the other server answers.
        assert [r.source for r in during] == ["rasa"] * len(DURING)
        assert [r.intent for r in during] == DURING_INTENTS
        assert not other.up and other.outages == 1
        # Only one citizen's parse went to the dead server; the rest went elsewhere.
        assert other.failures == 1
        taken_out = [r for r in caplog.records if "taken out of the pool" in r.getMessage()]
        assert len(taken_out) == 1 and b.url in taken_out[0].getMessage()

        second.append(await start_server(b.url, token=b.token, log_path=tmp_path / "b2.log"))
        for _ in range(100):
            if other.up:
                break
            await asyncio.sleep(0.1)
        assert other.up
        assert any("back in the pool" in r.getMessage() for r in caplog.records)
        before = other.parses
        back = await asyncio.gather(*(nlu.parse(q) for q in AFTER))
        assert [r.source for r in back] == ["rasa"] * len(AFTER)
        assert other.parses > before  # the restarted server works again
    finally:
        await nlu.close()


async def test_with_every_server_out_the_parses_cached_before_still_answer(
    rasa_server: RasaServer, second: list[RasaServer], light: LightModels
) -> None:
    only = second[0]
    nlu = NLU(RasaPool([only.url], rasa_server.token, probe_every=0.2), light, retry_after=0.1)
    try:
        assert nlu.client is not None and await nlu.client.ready()
        first = await nlu.parse(QUESTIONS[0])
        assert first.source == "rasa"
        only.kill()
        fresh = await nlu.parse(DURING[0])  # finds the server gone: none is in
        assert fresh.degraded
        again = await nlu.parse(QUESTIONS[0])
        # Still the model's parse (the last model known), not the fallback's.
        assert again.source == "rasa" and again.intent == first.intent
        assert nlu.stats.cache_hits == 1
    finally:
        await nlu.close()


async def test_a_list_of_servers_none_answering_falls_back_and_starts_nothing(
    light: LightModels,
) -> None:
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    nlu = await NLU.create(", ".join(dead), "t", start=True, timeout=0.5)
    try:
        assert isinstance(nlu.client, RasaPool) and nlu.client.urls == dead
        assert nlu.server is None  # several servers are run on their own, never by the bot
        result = await nlu.parse("какие документы нужны для дубликата диплома")
        assert result.degraded and result.source == "fallback"
        assert result.intent == "ask_documents" and result.language == "ru"
        assert not any(m.up for m in nlu.client.members)
    finally:
        await nlu.close()
