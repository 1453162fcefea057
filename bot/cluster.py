"""`make cluster`: the production topology on one machine.

nginx (deploy/nginx.conf) in front of N webhook workers and M single-process
Rasa servers, with the machine's PostgreSQL and Redis. Workers and Rasa
servers are started from their systemd units (deploy/systemd/): the unit's
ExecStart and Environment, the install directory being this checkout, and
the ports this machine has free (as a drop-in would set them). A process
that exits is started again after the unit's RestartSec, as systemd's
`Restart=always` does. Ctrl-C stops it all.

Needs BOT_TOKEN and a WEBHOOK_URL that reaches nginx (Telegram's, behind
TLS, or TELEGRAM_API_URL's local Bot API server); DATABASE_URL and
REDIS_URL default to the machine's own servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

import aiohttp

from nlu.rasa import RasaClient
from storage.db import create_schema, make_engine

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
NGINX_TEMPLATE = DEPLOY / "nginx.conf"
WORKER_UNIT = DEPLOY / "systemd" / "kz-bot@.service"
RASA_UNIT = DEPLOY / "systemd" / "kz-rasa@.service"
INSTALL_DIR = "/opt/kz-edu-assistant"  # where the units expect the checkout
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render_nginx(
    run_dir: Path,
    listen: int,
    console_listen: int,
    webhook_path: str,
    workers: list[tuple[int, int]],
) -> str:
    """deploy/nginx.conf with these ports (`workers`: webhook, console)."""
    text = Template(NGINX_TEMPLATE.read_text()).safe_substitute(
        RUN_DIR=str(run_dir),
        LISTEN=f"127.0.0.1:{listen}",
        CONSOLE_LISTEN=f"127.0.0.1:{console_listen}",
        WEBHOOK_PATH=webhook_path,
        WEBHOOK_SERVERS="\n".join(
            f"        server 127.0.0.1:{hook} max_fails=1 fail_timeout=10s;" for hook, _ in workers
        ),
        CONSOLE_SERVERS="\n".join(
            f"        server 127.0.0.1:{console} max_fails=1 fail_timeout=10s;"
            for _, console in workers
        ),
    )
    if "${" in text:
        raise ValueError("deploy/nginx.conf names a value the cluster does not fill in")
    return text


@dataclass
class UnitFile:
    """What a systemd service unit says about starting its process."""

    exec_start: str
    environment: dict[str, str]
    restart_sec: float

    @classmethod
    def read(cls, path: Path) -> UnitFile:
        exec_start, env, restart = "", {}, 0.1
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if line.startswith("ExecStart="):
                exec_start = line.removeprefix("ExecStart=")
            elif line.startswith("Environment="):
                for pair in shlex.split(line.removeprefix("Environment=")):
                    key, _, value = pair.partition("=")
                    env[key] = value
            elif line.startswith("RestartSec="):
                restart = float(line.removeprefix("RestartSec=").rstrip("s"))
        if not exec_start:
            raise ValueError(f"{path} has no ExecStart")
        return cls(exec_start, env, restart)

    def command(self, instance: str, env: dict[str, str]) -> list[str]:
        """ExecStart for `instance`, in this checkout, with ${VAR} from `env`."""
        line = self.exec_start.replace("%i", instance)
        line = line.replace(f"{INSTALL_DIR}/.venv/bin/python", sys.executable)
        line = line.replace(INSTALL_DIR, str(REPO))
        line = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), line)
        return shlex.split(line)

    def env(self, instance: str) -> dict[str, str]:
        return {k: v.replace("%i", instance) for k, v in self.environment.items()}


@dataclass
class Service:
    """A process started from a unit, and started again when it exits."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    restart_sec: float
    port: int
    console_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - argv from our own unit file
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    async def stop(self, timeout: float = 75.0) -> int | None:
        """SIGTERM (systemd's KillSignal): a worker finishes what it has in
        hand, a Rasa server stops; SIGKILL after `timeout`."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            for _ in range(int(timeout * 20)):
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                process.kill()
        return process.wait()


@dataclass
class Cluster:
    url: str  # nginx: the webhook (WEBHOOK_URL's path); /healthz and /readyz beside it
    console_url: str
    workers: list[Service]
    rasa: list[Service]
    nginx: subprocess.Popen[bytes]
    run_dir: Path
    nlu_token: str
    _keeper: asyncio.Task[None] | None = field(default=None, repr=False)
    stopping: bool = False
    held: set[str] = field(default_factory=set)  # stopped on purpose: not restarted

    async def _keep(self) -> None:
        """Start again a process that exited (systemd's Restart=always)."""
        while not self.stopping:
            await asyncio.sleep(0.1)
            for service in (*self.workers, *self.rasa):
                if service.alive or self.stopping or service.name in self.held:
                    continue
                await asyncio.sleep(service.restart_sec)
                if not self.stopping and not service.alive and service.name not in self.held:
                    service.start()

    async def worker_ready(self, worker: Service, timeout: float = 180.0) -> bool:
        """Wait until `worker` says it is ready (its own /readyz)."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{worker.url}/readyz") as resp:
                        if resp.status == 200:
                            return True
                await asyncio.sleep(0.2)
        return False

    async def rasa_ready(self, server: Service, timeout: float = 600.0) -> bool:
        """Wait until `server` has its model loaded."""
        client = RasaClient(server.url, self.nlu_token, timeout=2.0, retries=0)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while asyncio.get_running_loop().time() < deadline:
                if await client.ready():
                    return True
                await asyncio.sleep(0.5)
            return False
        finally:
            await client.close()

    async def stop(self) -> None:
        self.stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await asyncio.gather(*(w.stop() for w in self.workers))
        if self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finish the requests in hand
            try:
                await asyncio.to_thread(self.nginx.wait, 15)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        await asyncio.gather(*(r.stop(20.0) for r in self.rasa))


def nginx_executable() -> str:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    return exe


@contextlib.asynccontextmanager
async def cluster(
    *,
    workers: int = 2,
    rasa_servers: int = 2,
    env: dict[str, str] | None = None,
    run_dir: Path | None = None,
    port: int | None = None,
    console_port: int | None = None,
) -> AsyncIterator[Cluster]:
    """Start the topology; stop it all on leaving. `env` is what
    /etc/kz-edu-assistant/bot.env would hold (BOT_TOKEN, TELEGRAM_API_URL,
    DATABASE_URL, REDIS_URL, ...); the process environment by default."""
    base = dict(os.environ if env is None else env)
    if not base.get("BOT_TOKEN"):
        raise RuntimeError("BOT_TOKEN is needed: the cluster serves Telegram's webhook")
    base.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    base.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    run = run_dir or Path(tempfile.mkdtemp(prefix="cluster-"))
    run.mkdir(parents=True, exist_ok=True)
    (REPO / "var").mkdir(exist_ok=True)
    listen = port or free_port()
    console_listen = console_port or free_port()
    public = base.get("WEBHOOK_URL") or f"http://127.0.0.1:{listen}/telegram"
    path = urlsplit(public).path or "/telegram"
    token = base.get("NLU_TOKEN") or secrets.token_urlsafe(24)

    exe = nginx_executable()
    engine = make_engine(base["DATABASE_URL"])
    try:
        await create_schema(engine)  # once, before the workers (a migration step)
    finally:
        await engine.dispose()

    rasa_unit, worker_unit = UnitFile.read(RASA_UNIT), UnitFile.read(WORKER_UNIT)
    rasa: list[Service] = []
    for _ in range(rasa_servers):
        rasa_port = free_port()
        renv = {**base, **rasa_unit.env(str(rasa_port)), "NLU_TOKEN": token}
        rasa.append(
            Service(
                f"rasa-{rasa_port}",
                rasa_unit.command(str(rasa_port), renv),
                renv,
                run / f"rasa-{rasa_port}.out",
                rasa_unit.restart_sec,
                rasa_port,
            )
        )
    started: list[Service] = []
    for i in range(workers):
        instance = str(i + 1)
        hook, console = free_port(), free_port()
        wenv = {
            **base,
            **worker_unit.env(instance),
            # As a drop-in would: this machine's free ports, the cluster's servers.
            "WEBHOOK_URL": public,
            "WEBHOOK_PORT": str(hook),
            "CONSOLE_PORT": str(console),
            "CONSOLE_TRUSTED_PROXY": "127.0.0.1",
            "NLU_URL": ",".join(r.url for r in rasa),
            "NLU_TOKEN": token,
        }
        started.append(
            Service(
                f"worker-{instance}",
                worker_unit.command(instance, wenv),
                wenv,
                run / f"worker-{instance}.log",
                worker_unit.restart_sec,
                hook,
                console,
            )
        )
    conf = run / "nginx.conf"
    ports = [(w.port, w.console_port) for w in started]
    conf.write_text(render_nginx(run, listen, console_listen, path, ports))
    nginx: subprocess.Popen[bytes] | None = None
    made: Cluster | None = None
    try:
        for server in rasa:
            server.start()
        nginx = subprocess.Popen(  # noqa: S603 - a fixed argv
            [exe, "-p", str(run), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(run / "nginx-stderr.log").open("wb"),
        )
        made = Cluster(
            f"http://127.0.0.1:{listen}{path}",
            f"http://127.0.0.1:{console_listen}/",
            started,
            rasa,
            nginx,
            run,
            token,
        )
        if not all(await asyncio.gather(*(made.rasa_ready(r) for r in rasa))):
            raise RuntimeError("Rasa servers not ready: see " + str(run))
        for worker in started:
            worker.start()
        ready = await asyncio.gather(*(made.worker_ready(w) for w in started))
        if not all(ready):
            logs = "\n".join(w.log_path.read_text(errors="replace")[-2000:] for w in started)
            raise RuntimeError(f"workers not ready: {ready}\n{logs}")
        if nginx.poll() is not None:
            raise RuntimeError((run / "nginx-error.log").read_text(errors="replace")[-2000:])
        made._keeper = asyncio.create_task(made._keep(), name="cluster-keeper")
        yield made
    finally:
        if made is not None:
            await made.stop()
        else:
            for service in (*started, *rasa):
                await service.stop(20.0)
            if nginx is not None and nginx.poll() is None:
                nginx.kill()


async def _main(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with cluster(
        workers=args.workers,
        rasa_servers=args.rasa,
        port=args.port,
        console_port=args.console_port,
        run_dir=Path(args.run_dir) if args.run_dir else None,
    ) as running:
        base = running.url.rsplit("/", 1)[0]
        lines = [
            f"webhook (Telegram's WEBHOOK_URL): {running.url}",
            f"readiness: {base}/readyz   health: {base}/healthz",
            f"agent console: {running.console_url}",
            *(
                f"{w.name}: webhook :{w.port}, console :{w.console_port}, {w.log_path}"
                for w in running.workers
            ),
            *(f"Rasa: {s.url}" for s in running.rasa),
            f"nginx: {running.run_dir / 'nginx.conf'}",
            "Ctrl-C stops it all.",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.cluster", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rasa", type=int, default=2)
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "8443")))
    parser.add_argument("--console-port", type=int, default=8089)
    parser.add_argument("--run-dir", default=str(REPO / "var" / "cluster"))
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except RuntimeError as exc:
        sys.stderr.write(f"cluster not started: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
