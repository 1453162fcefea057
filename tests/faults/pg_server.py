"""A private PostgreSQL cluster for the fault tests, which stop it the way a
crash would (`pg_ctl stop -m immediate`: no checkpoint, clients cut off,
crash recovery at the next start) and start it again on the same port.

Never the machine's shared server: its own data directory under a fresh
temporary directory, its own port on 127.0.0.1, its own socket directory.
As root the server runs as the `postgres` user (PostgreSQL refuses root);
without root it runs as whoever we are. Skips when there is no PostgreSQL
installed or the cluster cannot be created.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

START_TIMEOUT = 60  # seconds; crash recovery after an immediate stop included


def find_bindir() -> Path | None:
    """The directory of initdb/pg_ctl: the newest /usr/lib/postgresql/N/bin,
    else what pg_config names, else wherever initdb is on PATH."""

    def version(path: str) -> int:
        try:
            return int(Path(path).parent.parent.name)
        except ValueError:
            return -1

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    if found:
        return Path(found[0]).parent
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(  # noqa: S603 - a fixed argv
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidate = Path(out.stdout.strip())
            if (candidate / "initdb").exists():
                return candidate
        except (OSError, subprocess.SubprocessError):
            pass
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PgServer:
    """One private cluster: `start()`, `crash()` (immediate stop), `start()` again."""

    def __init__(self, bindir: Path, root: Path, port: int, run_as: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.datadir = root / "data"
        self.sockdir = root / "sock"
        self.logfile = root / "server.log"
        self.port = port
        self._run_as = run_as
        self.starts = 0
        self.stops = 0

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own argv
            [*self._run_as, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )

    def initdb(self) -> subprocess.CompletedProcess[str]:
        return self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", "postgres",
            "-A", "trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1"
        done = self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.datadir),
            "-o", options,
            "-l", str(self.logfile),
            "-t", str(START_TIMEOUT),
            "-w",
            "start",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}\n{self.log_tail()}")
        self.starts += 1

    def crash(self) -> None:
        """Stop as a crash would: every backend killed, nothing flushed
        beyond what was already written; the next start recovers from WAL."""
        done = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr}\n{self.log_tail()}")
        self.stops += 1

    def running(self) -> bool:
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status")
        return done.returncode == 0

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    bindir = find_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl)")
    root = Path(tempfile.mkdtemp(prefix="pg-fault-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL will not run as root: as the postgres user, which must own the directory.
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("running as root without runuser or a postgres user")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        run_as = [runuser, "-u", "postgres", "--"]
    server = PgServer(bindir, root, free_port(), run_as)
    try:
        made = server.initdb()
        if made.returncode != 0:
            pytest.skip(f"initdb failed: {(made.stderr or made.stdout)[-500:]}")
        if os.geteuid() == 0:
            sockdir_owner = pwd.getpwnam("postgres")
            server.sockdir.mkdir()
            os.chown(server.sockdir, sockdir_owner.pw_uid, sockdir_owner.pw_gid)
        else:
            server.sockdir.mkdir()
        server.start()
        yield server
    finally:
        if server.datadir.exists() and server.running():
            server.crash()
        shutil.rmtree(root, ignore_errors=True)
