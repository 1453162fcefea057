"""The Rasa server killed mid-conversation: the assistant keeps answering
from the degraded classifier, says so in its result, its metrics and a
WARNING; a new server on the same port with the same token is used again
without rebuilding anything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actions.assistant import Assistant
from actions.events import Event
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from nlu.rasa import MODEL_PATH, RASA_VENV, RasaClient, RasaServer, start_server
from tests.conftest import free_port

pytestmark = [pytest.mark.rasa, pytest.mark.slow]
TOKEN = "fault-test-token"
QUESTIONS = [
    "дубликат диплома алу үшін қандай құжаттар керек",
    "какие документы нужны для дубликата диплома",
]
# Asked while Rasa is down: texts not parsed before (a text parsed before the
# crash is answered from the parse cache, as Rasa parsed it).
DOWN = [
    "телнұсқаға қандай құжаттар керек",
    "какие документы собрать на дубликат диплома",
    "дипломның телнұсқасына құжаттар тізімі қандай",
    "список документов для дубликата диплома",
]


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[list[RasaServer]]:
    if not MODEL_PATH.exists() or not (RASA_VENV / "bin" / "rasa").exists():
        pytest.skip("no trained Rasa model or .venv-rasa")
    started: list[RasaServer] = []
    yield started
    for server in started:
        await server.stop()


async def test_rasa_killed_and_restarted(
    servers: list[RasaServer],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    servers.append(await start_server(url, token=TOKEN, log_path=tmp_path / "rasa1.log"))
    nlu = NLU(RasaClient(url, TOKEN, timeout=2.0), light, retry_after=0.5)
    assistant = Assistant(nlu, kb, calendar)
    try:
        before = await assistant.handle(Event(1, text=QUESTIONS[0]))
        assert not before.degraded and before.intent == "ask_documents"
        assert nlu.stats.rasa_ok == 1 and nlu.stats.degraded == 0

        servers[0].kill()  # a crash, mid-conversation
        caplog.set_level(logging.WARNING, logger="nlu.pipeline")
        during = [await assistant.handle(Event(1, text=q)) for q in DOWN]
        for outcome in during:
            assert outcome.degraded
            assert outcome.replies and all(r.text.strip() for r in outcome.replies)
        assert [o.intent for o in during] == ["ask_documents"] * 4
        assert [o.lang for o in during] == ["kk", "ru", "kk", "ru"]
        assert nlu.stats.degraded == 4 and nlu.stats.rasa_failed >= 1
        cached = await assistant.handle(Event(1, text=QUESTIONS[0]))
        assert not cached.degraded and cached.intent == "ask_documents"
        # Within retry_after Rasa is not asked again: one warning, not one per message.
        warnings = [r for r in caplog.records if "NLU degraded" in r.getMessage()]
        assert 1 <= len(warnings) <= 2 and all(r.levelno == logging.WARNING for r in warnings)

        servers.append(await start_server(url, token=TOKEN, log_path=tmp_path / "rasa2.log"))
        await asyncio.sleep(nlu.retry_after)
        after = await assistant.handle(Event(1, text=QUESTIONS[1]))
        assert not after.degraded and after.intent == "ask_documents" and after.lang == "ru"
        again = await nlu.parse(QUESTIONS[0])
        assert not again.degraded and again.source == "rasa"
        assert nlu.stats.degraded == 4  # nothing more counted once Rasa was back
    finally:
        await nlu.close()
