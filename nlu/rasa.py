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
    model: Path = MODEL_PATH

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

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


# Started as `python -c LAUNCHER run …`: reads the API token from its
# standard input (a pipe), then hands `rasa run` the arguments with the
# token added in-process. Rasa 3.6 takes the token from its command line
# only (`--auth-token`), which every local user reads in `ps`
# (/proc/<pid>/cmdline); an environment variable would show in
# /proc/<pid>/environ. Neither holds it this way.
LAUNCHER = """\
import os, sys
token = sys.stdin.readline().strip()
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
if not token:
    sys.exit("no API token on standard input")
sys.argv = ["rasa", *sys.argv[1:], "--auth-token=" + token]
del token
from rasa.__main__ import main
sys.exit(main())
"""

# The only variables of ours the Rasa child gets (no BOT_TOKEN, DATABASE_URL,
# REDIS_URL, NLU_TOKEN …): what a program, Python and TensorFlow need.
CHILD_ENV_KEYS = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "USER",
    "LOGNAME",
)
CHILD_ENV_PREFIXES = ("TF_", "OMP_", "MKL_", "OPENBLAS_", "CUDA_", "XLA_")
# Never passed on, whatever the prefix (TF_CLI_* is Terraform's, not TensorFlow's).
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "TF_CLI_")


def rasa_python() -> Path:
    exe = RASA_VENV / "bin" / "python"
    if not exe.exists():
        raise FileNotFoundError(
            f"{exe} is missing: run `make setup` to install Rasa into .venv-rasa"
        )
    return exe


def child_env(parent: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for the Rasa server: none of the bot's secrets."""
    parent = dict(os.environ) if parent is None else parent
    env = {
        k: v
        for k, v in parent.items()
        if k in CHILD_ENV_KEYS
        or (k.startswith(CHILD_ENV_PREFIXES) and not any(w in k.upper() for w in _SECRET_WORDS))
    }
    bin_dir = str(RASA_VENV / "bin")
    env["PATH"] = os.pathsep.join(
        p for p in (bin_dir, env.get("PATH") or "/usr/local/bin:/usr/bin:/bin") if p
    )
    env.setdefault("HOME", str(REPO / "var"))
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "VIRTUAL_ENV": str(RASA_VENV),
            "PYTHONNOUSERSITE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "RASA_TELEMETRY_ENABLED": "false",
            "PYTHONWARNINGS": "ignore",
            "TF_NUM_INTEROP_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "2",
        }
    )
    return env


async def start_server(
    url: str = DEFAULT_URL,
    *,
    model: Path = MODEL_PATH,
    token: str | None = None,
    timeout: float = 180.0,
    log_path: Path | None = None,
) -> RasaServer:
    """Start `rasa run --enable-api` on the loopback address of `url`.

    The server listens on 127.0.0.1 only and requires a token, which it is
    given through a pipe (not its command line nor its environment); its
    environment is a minimal one (`child_env`).
    """
    if not model.exists():
        raise FileNotFoundError(f"no NLU model at {model}: run `make train`")
    parts = urlsplit(url)
    port = parts.port or 5005
    token = token or os.environ.get("NLU_TOKEN") or secrets.token_hex(24)
    if "\n" in token or "\r" in token or not token.strip():
        raise ValueError("the Rasa API token must be one line")
    log_path = log_path or (REPO / "var" / f"rasa-{port}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(rasa_python()),
        "-c",
        LAUNCHER,
        "run",
        "--enable-api",
        "--model",
        str(model),
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--quiet",
    ]
    log.info("starting Rasa server on 127.0.0.1:%s (log: %s)", port, log_path)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own venv
            cmd,
            cwd=REPO,
            env=child_env(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # noqa: PLW1509 - only prctl, no allocation
        )
    assert process.stdin is not None
    try:
        process.stdin.write(token.encode() + b"\n")
        process.stdin.close()
    except OSError:
        pass  # it died at once: reported below with its log
    server = RasaServer(f"http://127.0.0.1:{port}", token, process, log_path, model)
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
        raise TimeoutError(f"Rasa server did not become ready within {timeout:.0f} s")
    except BaseException:
        # Timed out, or the start was cancelled (the bot stopping): not left behind.
        await asyncio.shield(server.stop())
        raise
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
