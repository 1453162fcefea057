"""The fault tests share the abuse tests' database fixtures, and have a
redis-server of their own to stop."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.abuse.conftest import engine, sessions
from tests.redis_server import RedisServer

__all__ = ["engine", "private_redis", "sessions"]


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of the test's own (tests/redis_server.py), stopped after it."""
    server = RedisServer(tmp_path)
    await server.start()
    yield server
    server.stop()
