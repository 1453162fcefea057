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
        # The loaded model's id, as /status last said (`ready`).
        self.model_id: str | None = None
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
                self.model_id = str(status.get("model_id") or "") or None
                return bool(status.get("model_file") or status.get("model_id"))
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# A Rasa server that failed is out of the pool; it is asked for /status this
# often until it answers with a model loaded, then it is back in.
PROBE_EVERY = 1.0


@dataclass
class Member:
    """One Rasa server of a pool: its client, whether it is in, and its load."""

    client: RasaClient
    up: bool = True
    in_flight: int = 0
    parses: int = 0
    failures: int = 0
    outages: int = 0
    probe: asyncio.Task[None] | None = None


class RasaPool:
    """Several single-process Rasa servers behind one client (production runs
    one Rasa process per server, RasaHQ/rasa#5376: SANIC_WORKERS loads the
    model once per worker and a model swap reaches one worker only).

    Each parse goes to the server that is in and has the fewest parses in
    hand (round robin among equals). A server that fails is taken out at once
    and the parse is asked of the next one, so a citizen only waits for the
    degraded classifier when no server answers. A server that is out gets no
    citizen's message: it is probed in the background (`GET /status`) every
    `probe_every` seconds and taken back in once it has a model loaded.
    """

    def __init__(
        self,
        urls: list[str],
        token: str | None = None,
        *,
        timeout: float = 2.0,
        probe_every: float = PROBE_EVERY,
    ) -> None:
        if not urls:
            raise ValueError("a Rasa pool needs at least one server")
        # No retry on the same server: the next server is the retry.
        self.members = [Member(RasaClient(u, token, timeout=timeout, retries=0)) for u in urls]
        self.token = token
        self.probe_every = probe_every
        self._turn = 0
        self._last_model: str | None = None

    @property
    def url(self) -> str:
        """The first server's address (what a single-server caller printed)."""
        return self.members[0].client.url

    @property
    def model_id(self) -> str | None:
        """The model the servers in the pool answer with; during a rollout
        (two models in) both, so no parse is filed under either alone."""
        ids = sorted({m.client.model_id for m in self.members if m.up and m.client.model_id})
        if ids:
            self._last_model = "+".join(ids)
        # None in, the last model known: the parses cached meanwhile stay good.
        return self._last_model

    @property
    def urls(self) -> list[str]:
        return [m.client.url for m in self.members]

    def _order(self) -> list[Member]:
        up = [m for m in self.members if m.up]
        self._turn = (self._turn + 1) % len(self.members)
        # Least in hand first; among equals, the next one in turn.
        n = len(self.members)
        return sorted(up, key=lambda m: (m.in_flight, (self.members.index(m) - self._turn) % n))

    async def parse(self, text: str) -> dict[str, Any]:
        last: Exception | None = None
        for member in self._order():
            if not member.up:  # taken out by a parse that failed meanwhile
                continue
            member.in_flight += 1
            try:
                result = await member.client.parse(text)
            except RasaUnavailable as exc:
                last = exc
                member.failures += 1
                self._take_out(member, exc)
                continue
            finally:
                member.in_flight -= 1
            member.parses += 1
            return result
        if last is None:
            raise RasaUnavailable("no Rasa server of the pool is in")
        raise RasaUnavailable(f"every Rasa server of the pool failed ({last})")

    def _take_out(self, member: Member, exc: Exception) -> None:
        if not member.up:
            return
        member.up = False
        member.outages += 1
        left = sum(m.up for m in self.members)
        log.warning(
            "Rasa server %s taken out of the pool (%s); %d of %d left",
            member.client.url,
            str(exc)[:200] or type(exc).__name__,
            left,
            len(self.members),
        )
        if member.probe is None or member.probe.done():
            member.probe = asyncio.create_task(self._probe(member), name="rasa-probe")

    async def _probe(self, member: Member) -> None:
        while not member.up:
            await asyncio.sleep(self.probe_every)
            if await member.client.ready():
                member.up = True
                log.warning(
                    "Rasa server %s answers again: back in the pool (%d of %d in)",
                    member.client.url,
                    sum(m.up for m in self.members),
                    len(self.members),
                )

    async def ready(self) -> bool:
        """True when at least one server answers with a model loaded; those
        that do not are taken out (and probed) until they do."""
        answers = await asyncio.gather(*(m.client.ready() for m in self.members))
        for member, ok in zip(self.members, answers, strict=True):
            if not ok:
                self._take_out(member, RasaUnavailable("no answer to /status"))
        return any(answers)

    async def close(self) -> None:
        for member in self.members:
            if member.probe is not None:
                member.probe.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await member.probe
                member.probe = None
            await member.client.close()


def server_urls(value: str) -> list[str]:
    """`NLU_URL` as a list: one address, or several separated by commas or spaces."""
    return [u.strip().rstrip("/") for u in value.replace(",", " ").split() if u.strip()]


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
    interface: str = "127.0.0.1",
) -> RasaServer:
    """Start `rasa run --enable-api` on the port of `url`.

    The server listens on `interface` (loopback unless a deployment names its
    private address: `python -m nlu serve --interface`) and requires a token, which it is
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
        interface,
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
    local = "127.0.0.1" if interface in ("0.0.0.0", "::") else interface  # noqa: S104
    server = RasaServer(f"http://{local}:{port}", token, process, log_path, model)
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
