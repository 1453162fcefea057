"""The Rasa server: an HTTP client for it, and starting/stopping our own.

Rasa 3.6 runs in its own Python 3.10 virtual environment (`.venv-rasa`),
because its pins (aiogram 2, pydantic 1, SQLAlchemy 1.4) clash with the
bot's. The bot talks to it over `POST /model/parse`, as it would to a Rasa
server deployed on its own in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from nlu.trainingdata import REPO

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5005"
MODEL_DIR = REPO / "models"
MODEL_PATH = MODEL_DIR / "nlu.tar.gz"
RASA_VENV = REPO / ".venv-rasa"


class RasaUnavailable(Exception):
    """The Rasa server did not answer (down, starting, or too slow)."""


class RasaClient:
    """Async client for `POST /model/parse` with a short timeout and a retry."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 2.0,
        retries: int = 1,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        # sock_connect, not connect: "connect" also counts waiting for a free
        # pooled connection, which a burst of updates makes long.
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 0.5))
        self.retries = retries
        self._session: aiohttp.ClientSession | None = None

    def _params(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def parse(self, text: str) -> dict[str, Any]:
        session = await self._get_session()
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                async with session.post(
                    f"{self.url}/model/parse", json={"text": text}, params=self._params()
                ) as resp:
                    if resp.status != 200:
                        body = (await resp.text())[:200]
                        raise RasaUnavailable(f"HTTP {resp.status}: {body}")
                    result: dict[str, Any] = await resp.json()
                    return result
            except (aiohttp.ClientError, TimeoutError, RasaUnavailable) as exc:
                last = exc
                if attempt < self.retries:
                    await asyncio.sleep(0.05 * (attempt + 1))
        raise RasaUnavailable(str(last) or type(last).__name__)

    async def ready(self) -> bool:
        """True when the server answers and has a model loaded."""
        session = await self._get_session()
        try:
            async with session.get(f"{self.url}/status", params=self._params()) as resp:
                if resp.status != 200:
                    return False
                status = await resp.json()
                return bool(status.get("model_file") or status.get("model_id"))
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class RasaServer:
    """A Rasa server process this program started and will stop."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    async def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        for _ in range(int(timeout * 10)):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.to_thread(self.process.wait)

    def kill(self) -> None:
        """Stop at once (tests use this to simulate a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def rasa_executable() -> Path:
    exe = RASA_VENV / "bin" / "rasa"
    if not exe.exists():
        raise FileNotFoundError(
            f"{exe} is missing: run `make setup` to install Rasa into .venv-rasa"
        )
    return exe


def _die_with_parent() -> Any:
    """On Linux, a preexec function that has the kernel stop the server
    (SIGTERM) when the process that started it dies, even by SIGKILL: no
    orphaned Rasa holding the port with a token nobody knows."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded before the fork
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


async def start_server(
    url: str = DEFAULT_URL,
    *,
    model: Path = MODEL_PATH,
    token: str | None = None,
    timeout: float = 180.0,
    log_path: Path | None = None,
) -> RasaServer:
    """Start `rasa run --enable-api` on the loopback address of `url`.

    The server listens on 127.0.0.1 only and requires a token.
    """
    if not model.exists():
        raise FileNotFoundError(f"no NLU model at {model}: run `make train`")
    parts = urlsplit(url)
    port = parts.port or 5005
    token = token or os.environ.get("NLU_TOKEN") or secrets.token_hex(24)
    log_path = log_path or (REPO / "var" / f"rasa-{port}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "RASA_TELEMETRY_ENABLED": "false",
            "PYTHONWARNINGS": "ignore",
            "TF_NUM_INTEROP_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "2",
        }
    )
    cmd = [
        str(rasa_executable()),
        "run",
        "--enable-api",
        "--model",
        str(model),
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        # "=" form: a token may start with "-"
        f"--auth-token={token}",
        "--quiet",
    ]
    log.info("starting Rasa server on 127.0.0.1:%s (log: %s)", port, log_path)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own venv
            cmd,
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl, no allocation
        )
    server = RasaServer(f"http://127.0.0.1:{port}", token, process, log_path)
    client = RasaClient(server.url, token, timeout=2.0, retries=0)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Rasa server exited with {process.returncode}:\n{tail}")
            if await client.ready():
                with contextlib.suppress(RasaUnavailable):
                    await client.parse("warm up")
                return server
            await asyncio.sleep(0.5)
        await server.stop()
        raise TimeoutError(f"Rasa server did not become ready within {timeout:.0f} s")
    finally:
        await client.close()


def train_model(config: Path, data: Path, out: Path = MODEL_DIR) -> None:
    """Run `rasa train nlu` (blocking)."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        RASA_TELEMETRY_ENABLED="false",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    cmd = [
        str(rasa_executable()),
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(data),
        "--out",
        str(out),
        "--fixed-model-name",
        "nlu",
    ]
    print("$", " ".join(cmd), file=sys.stderr)  # noqa: T201 - a CLI step
    subprocess.run(cmd, cwd=REPO, env=env, check=True)  # noqa: S603
