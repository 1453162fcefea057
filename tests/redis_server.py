"""A private redis-server for the tests that stop and start Redis under the
bot (no persistence, as a crashed cache would come back), on a free port of
127.0.0.1 with its working directory under the test's temporary one."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from tests.conftest import free_port


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> str:
        """Start it (again, on the same port) and wait until it accepts
        connections; its URL."""
        exe = shutil.which("redis-server")
        assert exe is not None
        self.process = subprocess.Popen(  # noqa: S603 - a fixed argv
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return self.url
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        """Kill it, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
