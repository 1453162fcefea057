"""The one way this project connects to Redis."""

from __future__ import annotations

from typing import Any


def redis_client(url: str, max_connections: int = 64) -> Any:
    """A `redis.asyncio.Redis` whose pool waits for a free connection instead
    of failing (the default pool raises "Too many connections" past 100 at
    once, which a burst of updates reaches) and that retries a command on a
    dropped connection (after a Redis restart the first command on every
    pooled connection would fail with "Connection closed by server")."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=20,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis(connection_pool=pool)
