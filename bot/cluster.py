"""`make cluster`: the production topology on one machine.

nginx (deploy/nginx.conf) in front of N webhook workers (`python -m bot`,
each with its own webhook and console port), M single-process Rasa servers
(NLU_URL lists them all), and the machine's PostgreSQL and Redis. A worker
that exits is started again after a second, as systemd's `Restart=always`
does in a deployment (deploy/systemd/). Ctrl-C stops it all.

Needs BOT_TOKEN and a WEBHOOK_URL that reaches nginx (Telegram's, behind
TLS, or TELEGRAM_API_URL's local Bot API server); DATABASE_URL and
REDIS_URL default to the machine's own servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
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

from nlu.rasa import RasaServer, start_server
from storage.db import create_schema, make_engine

REPO = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = REPO / "deploy" / "nginx.conf"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RESTART_AFTER = 1.0


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
class Worker:
    name: str
    webhook_port: int
    console_port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bot"],
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

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM: it finishes the updates in hand, then exits."""
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
    url: str  # nginx: the webhook (WEBHOOK_URL's path), /healthz, /readyz
    console_url: str
    workers: list[Worker]
    rasa: list[RasaServer]
    nginx: subprocess.Popen[bytes]
    run_dir: Path
    _keeper: asyncio.Task[None] | None = field(default=None, repr=False)
    stopping: bool = False

    async def _keep(self) -> None:
        """Start again a worker that exited (systemd's Restart=always)."""
        while not self.stopping:
            await asyncio.sleep(0.2)
            for worker in self.workers:
                if not worker.alive and not self.stopping:
                    await asyncio.sleep(RESTART_AFTER)
                    if not self.stopping:
                        worker.start()

    async def worker_ready(self, worker: Worker, timeout: float = 120.0) -> bool:
        """Wait until `worker` says it is ready (its own /readyz)."""
        url = f"http://127.0.0.1:{worker.webhook_port}/readyz"
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as resp:
                        if resp.status == 200:
                            return True
                if worker.process is not None and worker.process.poll() is not None:
                    await asyncio.sleep(0.5)  # the keeper starts it again
                await asyncio.sleep(0.2)
        return False

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
        for server in self.rasa:
            await server.stop()


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
    """Start the topology; stop it all on leaving. `env` is the workers'
    environment (BOT_TOKEN, TELEGRAM_API_URL, DATABASE_URL, REDIS_URL, ...)."""
    base = dict(os.environ if env is None else env)
    if not base.get("BOT_TOKEN"):
        raise RuntimeError("BOT_TOKEN is needed: the cluster serves Telegram's webhook")
    base.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    base.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    run = run_dir or Path(tempfile.mkdtemp(prefix="cluster-"))
    run.mkdir(parents=True, exist_ok=True)
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

    rasa: list[RasaServer] = []
    started: list[Worker] = []
    nginx: subprocess.Popen[bytes] | None = None
    made: Cluster | None = None
    try:
        rasa = list(
            await asyncio.gather(
                *(
                    start_server(
                        f"http://127.0.0.1:{free_port()}",
                        token=token,
                        log_path=run / f"rasa-{i + 1}.log",
                        timeout=600.0,
                    )
                    for i in range(rasa_servers)
                )
            )
        )
        for i in range(workers):
            hook, console = free_port(), free_port()
            worker_env = dict(base)
            worker_env.update(
                WEBHOOK_URL=public,
                WEBHOOK_HOST="127.0.0.1",
                WEBHOOK_PORT=str(hook),
                CONSOLE_PORT=str(console),
                CONSOLE_TRUSTED_PROXY="127.0.0.1",
                NLU_URL=",".join(s.url for s in rasa),
                NLU_TOKEN=token,
                PYTHONUNBUFFERED="1",
            )
            worker = Worker(
                f"worker-{i + 1}", hook, console, worker_env, run / f"worker-{i + 1}.log"
            )
            worker.start()
            started.append(worker)
        conf = run / "nginx.conf"
        conf.write_text(
            render_nginx(
                run,
                listen,
                console_listen,
                path,
                [(w.webhook_port, w.console_port) for w in started],
            )
        )
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
        )
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
            for worker in started:
                await worker.stop()
            if nginx is not None and nginx.poll() is None:
                nginx.kill()
            for server in rasa:
                await server.stop()


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
                f"{w.name}: webhook :{w.webhook_port}, console :{w.console_port}, {w.log_path}"
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
