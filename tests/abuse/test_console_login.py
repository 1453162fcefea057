"""The agent console under attack: password guessing (in parallel, from one
address, from behind the proxy), oversized bodies, and what a 404 or any
response says about the server. Counters in memory and in a private Redis."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from bot.console import console_site, mount_console
from bot.console.app import LoginThrottle, RedisThrottleStore, ThrottleStore
from storage.staff import StaffDirectory
from tests.conftest import free_port
from tests.redis_server import RedisServer

LOGIN = "aigerim"
PASSWORD = "correct horse 1414"  # noqa: S105 - a test account
WRONG = "wrong horse 1414"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")
_CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')
Client = TestClient[web.Request, web.Application]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# -- a private Redis --------------------------------------------------------------------------
@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ThrottleStore]:
    if request.param == "memory":
        yield ThrottleStore()
        return
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary")
    from redis.asyncio import Redis

    server = RedisServer(tmp_path)
    client = Redis.from_url(await server.start())
    try:
        yield RedisThrottleStore(client)
    finally:
        await client.aclose()
        server.stop()


# -- the console ----------------------------------------------------------------------------
@pytest.fixture
async def staff(sessions: async_sessionmaker[AsyncSession]) -> StaffDirectory:
    directory = StaffDirectory(sessions)
    await directory.add(LOGIN, PASSWORD)
    return directory


def console(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], **kwargs: Any
) -> TestServer:
    root = web.Application()  # aiohttp's own body limit: 1 MiB
    mount_console(root, assistant, sessions, **kwargs)
    return TestServer(root)


async def log_in(
    client: Client, password: str = PASSWORD, address: str | None = None, login: str = LOGIN
) -> aiohttp.ClientResponse:
    page = await client.get("/console/login")
    token = _CSRF_INPUT.search(await page.text())
    assert token is not None
    headers = {"X-Forwarded-For": address} if address else {}
    return await client.post(
        "/console/login",
        data={"csrf": token.group(1), "login": login, "password": password},
        headers=headers,
        allow_redirects=False,
    )


# -- password guessing ------------------------------------------------------------------------
async def test_parallel_wrong_logins_are_throttled(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    staff: StaffDirectory,
    store: ThrottleStore,
) -> None:
    """40 wrong passwords at once: each try is counted before its password
    is checked, so only the free few are checked at all."""
    throttle = LoginThrottle(store)
    async with TestClient(console(assistant, sessions, throttle=throttle)) as client:
        page = await client.get("/console/login")
        token = _CSRF_INPUT.search(await page.text())
        assert token is not None
        form = {"csrf": token.group(1), "login": LOGIN, "password": WRONG}
        answers = await asyncio.gather(
            *(client.post("/console/login", data=form, allow_redirects=False) for _ in range(40))
        )
        statuses = sorted(r.status for r in answers)
        assert statuses.count(401) == throttle.free
        assert statuses.count(429) == 40 - throttle.free
        for r in answers:
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
        # Even the right password waits its turn from here.
        assert (await log_in(client)).status == 429


async def test_one_address_throttled_another_logs_in(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    staff: StaffDirectory,
    store: ThrottleStore,
) -> None:
    """Behind the trusted proxy, a guesser's address is slowed down; the
    agent, from another address, logs in at once with the same login."""
    throttle = LoginThrottle(store)
    server = console(assistant, sessions, throttle=throttle, trusted_proxies="127.0.0.1")
    async with TestClient(server) as client:
        for n in range(8):
            status = (await log_in(client, WRONG, address="203.0.113.9")).status
            assert status == (401 if n < throttle.free else 429)
        assert (await log_in(client, address="203.0.113.9")).status == 429
        resp = await log_in(client, address="10.1.2.3, 198.51.100.7")
        assert resp.status == 303  # logged in: redirected to the console
        assert "console_session" in resp.cookies


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], staff: StaffDirectory
) -> None:
    async with TestClient(console(assistant, sessions, trusted_proxies="")) as client:
        for n in range(4):
            status = (await log_in(client, WRONG, address=f"203.0.113.{n}")).status
            assert status == (401 if n < 3 else 429)  # one address: the peer's


async def test_guessing_slows_down_and_never_locks_out(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], staff: StaffDirectory
) -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    async with TestClient(console(assistant, sessions, throttle=throttle)) as client:
        waits = []
        for _ in range(6):
            resp = await log_in(client, WRONG)
            while resp.status == 429:
                waits.append(int(resp.headers["Retry-After"]))
                clock.now += waits[-1]
                resp = await log_in(client, WRONG)
            assert resp.status == 401
        assert waits == [2, 4, 8]  # twice as long each time
        resp = await log_in(client)
        assert resp.status == 429
        clock.now += int(resp.headers["Retry-After"])  # 16 s, not 10 minutes
        assert (await log_in(client)).status == 303


async def test_a_good_password_does_not_count_against_the_address(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], staff: StaffDirectory
) -> None:
    """Every agent behind one address (127.0.0.1, a shared proxy) logs in
    all day long: only wrong passwords add up."""
    await StaffDirectory(sessions).add("bolat", PASSWORD)
    async with TestClient(console(assistant, sessions)) as client:
        for _ in range(20):  # past every key's free tries
            for login in (LOGIN, "bolat"):
                assert (await log_in(client, login=login)).status == 303
                client.session.cookie_jar.clear()  # signed out


async def test_failed_logins_are_logged_with_login_and_address(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    staff: StaffDirectory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = console(assistant, sessions, trusted_proxies="127.0.0.1/32")
    async with TestClient(server) as client:
        with caplog.at_level(logging.INFO, logger="bot.console.app"):
            for _ in range(4):
                await log_in(client, WRONG, address="203.0.113.77")
    failed = [r.getMessage() for r in caplog.records if "failed login" in r.getMessage()]
    throttled = [r.getMessage() for r in caplog.records if "throttled" in r.getMessage()]
    assert len(failed) == 3 and len(throttled) == 1
    for line in failed + throttled:
        assert LOGIN in line and "203.0.113.77" in line
    assert not any(WRONG in r.getMessage() for r in caplog.records)


# -- bodies and headers -----------------------------------------------------------------------
async def test_bodies_over_64_kib_are_refused(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], staff: StaffDirectory
) -> None:
    async with TestClient(console(assistant, sessions)) as client:
        big = {"csrf": "x", "login": LOGIN, "password": "p" * 1_000_000}  # under aiohttp's 1 MiB
        resp = await client.post("/console/login", data=big)
        assert resp.status == 413
        assert "Content-Security-Policy" in resp.headers

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read up to the limit
            for _ in range(100):
                yield b"a" * 1024

        resp = await client.post(
            "/console/login",
            data=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert resp.status == 413
        assert (await log_in(client)).status == 303  # a normal form still passes
        resp = await client.post("/console/api/suggest", json={"text": "ы" * 40_000})
        assert resp.status == 413


async def test_every_response_has_the_headers_and_names_no_server(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], staff: StaffDirectory
) -> None:
    async with TestClient(console(assistant, sessions)) as client:
        anonymous = [
            await client.get("/console/static/nothing.css"),
            await client.get("/console/login"),
            await client.get("/console/no/such/page", allow_redirects=False),
        ]
        await log_in(client)
        signed_in = [
            await client.get("/console/no/such/page"),
            await client.get("/console/static/nothing.js"),
            await client.put("/console/login"),
            await client.get("/console/"),
        ]
        statuses = [r.status for r in anonymous + signed_in]
        assert statuses == [404, 200, 303, 404, 404, 405, 200]
        assert "Allow" in signed_in[2].headers
        for resp in anonymous + signed_in:
            for name in SECURITY_HEADERS:
                assert name in resp.headers, (resp.url, name)
            server = resp.headers.get("Server", "")
            assert "aiohttp" not in server.lower() and "python" not in server.lower()


async def test_the_consoles_own_site_too(
    assistant: Assistant, sessions: async_sessionmaker[AsyncSession], staff: StaffDirectory
) -> None:
    async with (
        console_site(assistant, sessions, port=free_port()) as url,
        aiohttp.ClientSession() as http,
    ):
        assert url is not None
        base = url.removesuffix("/console/")
        for path, status in (("/nothing", 404), ("/console/login", 200), ("/", 200)):
            async with http.get(base + path) as resp:
                assert resp.status == status, path
                assert "Content-Security-Policy" in resp.headers, path
                assert "aiohttp" not in resp.headers.get("Server", "").lower(), path
        async with http.post(base + "/console/login", data=b"a" * 500_000) as resp:
            assert resp.status == 413
