"""Backpressure: a message Rasa does not parse in time (a queue longer than
the servers can take) is answered by the fallback classifier, that message
only, and says so; Rasa is not taken out for the citizens after it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nlu.light import LightModels
from nlu.pipeline import NLU
from nlu.rasa import RasaClient, RasaServer, start_server
from tests.conftest import free_port

pytestmark = [pytest.mark.rasa, pytest.mark.slow]


@pytest.fixture
async def own_rasa(rasa_server: RasaServer, tmp_path: Path) -> AsyncIterator[RasaServer]:
    """A Rasa server of this test's own: it is frozen (SIGSTOP) mid-test."""
    url = f"http://127.0.0.1:{free_port()}"
    server = await start_server(url, token=rasa_server.token, log_path=tmp_path / "rasa.log")
    yield server
    os.killpg(server.process.pid, signal.SIGCONT)
    await server.stop()


async def test_a_parse_that_waits_too_long_is_answered_at_once_and_rasa_stays_in(
    own_rasa: RasaServer, light: LightModels
) -> None:
    client = RasaClient(own_rasa.url, own_rasa.token, timeout=10.0, retries=0)
    # A failure would keep Rasa out for 60 s: the next parse shows whether it was one.
    nlu = NLU(client, light, retry_after=60.0, slow_after=0.5)
    try:
        first = await nlu.parse("дубликат диплома сколько дней делается")
        assert (first.source, first.degraded) == ("rasa", False)

        os.killpg(own_rasa.process.pid, signal.SIGSTOP)  # busy: it answers nobody
        began = time.perf_counter()
        held = await nlu.parse("какие документы нужны на грант")
        waited = time.perf_counter() - began
        os.killpg(own_rasa.process.pid, signal.SIGCONT)

        # The citizen got an answer after the deadline, not the client's 10 s.
        assert waited < 2.0
        assert (held.source, held.degraded) == ("slow", True)
        assert held.intent == "ask_documents"  # the fallback still understood it
        assert nlu.stats.slow == 1

        # The next citizen's message goes to Rasa again, at once.
        after = await nlu.parse("грантқа қашан құжат тапсырады")
        assert (after.source, after.degraded) == ("rasa", False)
        assert nlu.stats.rasa_failed == 0
        # The slow message was not cached as its parse: asked again, Rasa answers.
        again = await nlu.parse("какие документы нужны на грант")
        assert (again.source, again.degraded) == ("rasa", False)
    finally:
        os.killpg(own_rasa.process.pid, signal.SIGCONT)
        await client.close()
        await asyncio.sleep(0)
