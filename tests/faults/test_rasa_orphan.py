"""The bot killed with SIGKILL takes the Rasa server it started with it:
no orphan keeps the port with a token the next start cannot know."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from nlu.rasa import MODEL_PATH, RASA_VENV
from tests.conftest import free_port
from tests.telegram.tg_support import REPO

pytestmark = [pytest.mark.slow, pytest.mark.rasa]

STARTER = """
import asyncio, sys, time
from nlu.rasa import start_server

async def main():
    server = await start_server(sys.argv[1], token="orphan-test")
    print(server.process.pid, flush=True)
    while True:
        await asyncio.sleep(60)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent, killed, cannot reap it; init will).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_killed_bot_leaves_no_rasa_behind() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the kernel's parent-death signal is Linux's")
    if not MODEL_PATH.exists() or not (RASA_VENV / "bin" / "rasa").exists():
        pytest.skip("no trained model or .venv-rasa")
    url = f"http://127.0.0.1:{free_port()}"
    starter = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", STARTER, url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        rasa_pid = int(starter.stdout.readline())
        assert alive(rasa_pid)
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 20
        while alive(rasa_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(rasa_pid), "Rasa outlived the process that started it"
    finally:
        if starter.poll() is None:
            starter.kill()
