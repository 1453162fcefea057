"""Shared fixtures: a real Rasa server for the test session, the light
models, the knowledge base and the calendar."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import pytest

from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.embed import IntentNeighbours
from nlu.light import LightModels, load_or_train
from nlu.pipeline import NLU
from nlu.rasa import MODEL_DIR, MODEL_PATH, RASA_VENV, RasaClient, RasaServer, start_server
from nlu.trainingdata import TRAIN_DIR

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def light() -> LightModels:
    return load_or_train(cache_dir=MODEL_DIR)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="session")
def calendar() -> Calendar:
    return Calendar.load()


@pytest.fixture(scope="session")
async def rasa_server() -> AsyncIterator[RasaServer]:
    """A real Rasa server on a free loopback port, started once per session."""
    if not MODEL_PATH.exists() or not (RASA_VENV / "bin" / "rasa").exists():
        msg = "no trained Rasa model or .venv-rasa: run `make train` (make test does)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    server = await start_server(f"http://127.0.0.1:{free_port()}", token="test-token")
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def rasa_nlu(rasa_server: RasaServer, light: LightModels) -> AsyncIterator[NLU]:
    nlu = NLU(
        RasaClient(rasa_server.url, rasa_server.token),
        light,
        neighbours=IntentNeighbours.from_training(TRAIN_DIR),
    )
    yield nlu
    await nlu.close()
