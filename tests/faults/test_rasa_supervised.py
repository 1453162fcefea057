"""The Rasa server the bot starts itself (NLU.create, as bot/app.py does).

* Its API token is not visible to other local users: not on its command
  line (`ps`, /proc/<pid>/cmdline, world-readable), nor in its environment;
  and it gets a minimal environment: none of the bot's secrets (BOT_TOKEN,
  DATABASE_URL, REDIS_URL, NLU_TOKEN …). The token still guards the API.
* Killed, it is started again (same port, same token) with backoff; the
  fallback classifier answers meanwhile, and parses are from Rasa again
  within a minute (on a loaded machine: within a start of Rasa, plus the
  detection); the degraded time is counted and logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from nlu.pipeline import NLU
from nlu.rasa import MODEL_PATH, RASA_VENV, RasaServer, child_env
from tests.conftest import IN_CI, free_port

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

TOKEN = "rasa-api-token-8d1f0c4e"
SECRETS = {
    "BOT_TOKEN": "123456:AAH-bot-secret-token-value-xyz",
    "DATABASE_URL": "postgresql+asyncpg://bot:db-password-secret@127.0.0.1/bot",
    "REDIS_URL": "redis://:redis-password-secret@127.0.0.1:6379/0",
    "NLU_TOKEN": TOKEN,
    "WEBHOOK_SECRET": "webhook-secret-value",
}
QUESTION = "какие документы нужны для дубликата диплома"


def test_the_child_environment_is_minimal() -> None:
    parent = {
        **SECRETS,
        "PATH": "/usr/bin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "1",
        "TF_CLI_CONFIG_FILE": "/root/.terraformrc",
        "TF_API_TOKEN": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    env = child_env(parent)
    assert not set(SECRETS) & set(env)
    assert "TF_API_TOKEN" not in env and "TF_CLI_CONFIG_FILE" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PATH"].startswith(str(RASA_VENV / "bin")) and env["HOME"] == "/root"
    assert env["VIRTUAL_ENV"] == str(RASA_VENV)


def _group(server: RasaServer) -> list[int]:
    """The server and every process it started (its own session and group)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == server.process.pid:  # the process group
            pids.append(int(entry))
    assert server.process.pid in pids
    return pids


def check_process(server: RasaServer) -> None:
    for pid in _group(server):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
        assert TOKEN.encode() not in cmdline, "the API token is on the command line"
        assert TOKEN.encode() not in environ, "the API token is in the environment"
        names = {e.split(b"=", 1)[0].decode() for e in environ.split(b"\0") if e}
        assert not names & set(SECRETS), names & set(SECRETS)
        for value in SECRETS.values():
            assert value.encode() not in environ


@pytest.fixture(scope="module")
async def nlu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NLU]:
    if not MODEL_PATH.exists() or not (RASA_VENV / "bin" / "rasa").exists():
        msg = "no trained Rasa model or .venv-rasa: run `make train` (make test does)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in SECRETS.items():  # the bot's environment
            mp.setenv(key, value)
        loop = asyncio.get_running_loop()
        started = loop.time()
        built = await NLU.create(
            f"http://127.0.0.1:{free_port()}", TOKEN, start=True, start_timeout=900
        )
        built.start_seconds = loop.time() - started  # type: ignore[attr-defined]
    assert built.server is not None, "the bot did not start its own Rasa server"
    yield built
    await built.close()


async def test_the_token_is_not_visible_and_guards_the_api(nlu: NLU) -> None:
    server = nlu.server
    assert server is not None
    check_process(server)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/status") as resp:
            assert resp.status == 401
        async with session.get(f"{server.url}/status", params={"token": TOKEN}) as resp:
            assert resp.status == 200
    parsed = await nlu.parse(QUESTION)
    assert not parsed.degraded and parsed.intent == "ask_documents"


async def test_a_killed_rasa_is_restarted(nlu: NLU, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nlu.pipeline")
    first = nlu.server
    assert first is not None
    assert not (await nlu.parse(QUESTION)).degraded
    start_seconds: float = nlu.start_seconds  # type: ignore[attr-defined]

    loop = asyncio.get_running_loop()
    first.kill()  # a crash: SIGKILL
    killed = loop.time()
    degraded = 0
    while True:
        # A new text each time: a repeated one is answered from the parse cache.
        parsed = await nlu.parse(f"{QUESTION} {degraded + 1}")
        # Meanwhile the fallback answers, and understands.
        assert parsed.intent == "ask_documents"
        if not parsed.degraded:
            break
        degraded += 1
        assert loop.time() - killed < max(60.0, 2 * start_seconds + 30), (
            f"still degraded {loop.time() - killed:.0f} s after the kill "
            f"(a start took {start_seconds:.0f} s)"
        )
        await asyncio.sleep(0.5)
    took = loop.time() - killed
    print(  # noqa: T201
        f"Rasa restarted: parses from Rasa again {took:.1f} s after the kill "
        f"({degraded} degraded parses meanwhile); the first start took {start_seconds:.1f} s"
    )
    assert degraded > 0
    assert nlu.server is not None and nlu.server is not first
    assert nlu.server.url == first.url and not nlu.server.exited
    assert nlu.stats.server_exits == 1 and nlu.stats.server_restarts == 1
    assert nlu.stats.degraded_since is None
    assert 0 < nlu.stats.degraded_minutes * 60 <= took + 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("Rasa server exited" in m for m in messages)
    assert any("Rasa server restarted" in m and "min in all" in m for m in messages)
    check_process(nlu.server)  # the new one: no token visible either
