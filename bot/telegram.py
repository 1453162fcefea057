"""Running the Telegram bot: long polling by default, a webhook server when
WEBHOOK_URL is set. Everything built here is closed here.

Several webhook workers may run side by side behind one URL: they share
Redis (update de-duplication, per-user locks, flood limits, send pacing) and
the database (users, outbox); each registers the same webhook and secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import signal
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from bot.app import App, build_app
from bot.console import console_site, mount_console
from bot.dedupe import RedisClaims
from bot.dispatcher import ALLOWED_UPDATES, Shared, build_dispatcher, set_bot_commands
from bot.handlers.staff_relay import attach_desk
from bot.handoff_idle import IdleHandoffs
from bot.middlewares.ordering import UserLocks
from bot.ratelimit import RedisBuckets
from bot.sender import PacedSender, RetryPolicy, RetryRequests
from bot.settings import Settings
from storage.handoffs import Handoffs
from storage.redis import redis_client as storage_redis_client
from storage.users import SqlUserDirectory

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30  # seconds, for every Bot API call but the long poll
SHUTDOWN_GRACE = 20.0  # seconds to finish the updates in hand on SIGTERM
POLLING_CONCURRENCY = 256  # updates handled at once by one poller
REDIS_CONNECTIONS = 64  # per worker; updates wait for one rather than fail


# -- logging ------------------------------------------------------------------
class Redact(logging.Filter):
    """Masks bot tokens and IIN-like numbers (12 digits) in every record,
    tracebacks included. Installed on the root handlers."""

    _TOKEN = re.compile(r"\b\d{5,16}:[A-Za-z0-9_-]{20,}")
    _IIN = re.compile(r"(?<!\d)\d{12}(?!\d)")
    _PHONE = re.compile(
        r"(?<!\d)(?:\+?7|8)[\s\-()]*\d{3}[\s\-()]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
    )

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def mask(self, text: str) -> str:
        if self.token:
            text = text.replace(self.token, "<token>")
        text = self._TOKEN.sub("<token>", text)
        text = self._IIN.sub("<iin>", text)
        return self._PHONE.sub("<phone>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
        return True


def install_redaction(token: str) -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, Redact) for f in handler.filters):
            handler.addFilter(Redact(token))


# -- the bot and what it shares ------------------------------------------------
@functools.lru_cache(maxsize=256)
def _response_type(returning: Any) -> Any:
    return Response[returning]


class BotSession(AiohttpSession):
    """aiogram's session, minus a cost on every answer: its `check_response`
    builds the pydantic generic `Response[...]` each time (about 0.3 ms, a
    tenth of a question's handling here); the class is built once per
    result type instead. Anything but a well-formed success goes through
    aiogram's own code, which raises the right error."""

    def check_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
    ) -> Response[TelegramType]:
        if status_code == 200:
            try:
                response_type = _response_type(method.__returning__)
                response: Response[TelegramType] = response_type.model_validate(
                    self.json_loads(content), context={"bot": bot}
                )
            except (ValueError, TypeError, ValidationError):
                pass  # aiogram's path below says what is wrong
            else:
                if response.ok:
                    return response
        return super().check_response(bot, method, status_code, content)


def make_bot(token: str, api_url: str | None = None, retry: RetryPolicy | None = None) -> Bot:
    """A Bot for Telegram, or for another Bot API server at `api_url`."""
    api = TelegramAPIServer.from_base(api_url) if api_url else PRODUCTION
    session = BotSession(api=api, timeout=REQUEST_TIMEOUT)
    session.middleware(RetryRequests(retry))
    return Bot(token, session=session)


def make_shared(redis: Any, prefix: str) -> Shared:
    """Redis-backed when Redis is configured, process memory otherwise."""
    if redis is None:
        return Shared()
    return Shared(
        claims=RedisClaims(redis, prefix),
        buckets=RedisBuckets(redis, prefix),
        locks=UserLocks(redis, prefix),
    )


def sessions_of(app: App) -> async_sessionmaker[AsyncSession]:
    # Adapter until bot/app.py exposes the session factory as `App.sessions`.
    sessions = getattr(app, "sessions", None)
    if sessions is not None:
        return sessions
    users = app.assistant.users
    if isinstance(users, SqlUserDirectory):
        return users.sessions
    raise RuntimeError("no database session factory to run the Telegram bot with")


def redis_client(url: str, max_connections: int = REDIS_CONNECTIONS) -> Any:
    return storage_redis_client(url, max_connections)


@contextlib.asynccontextmanager
async def redis_of(app: App, settings: Settings) -> AsyncIterator[Any]:
    # Adapter until bot/app.py exposes its client as `App.redis`: one more
    # connection pool to the same server meanwhile.
    shared = getattr(app, "redis", None)
    if shared is not None or not settings.redis_url:
        yield shared
        return
    redis = redis_client(settings.redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


def webhook_secret(settings: Settings, token: str) -> str:
    """WEBHOOK_SECRET, or one derived from the token: every worker computes
    the same, so any of them may (re)register the webhook."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    return hashlib.sha256(b"webhook-secret:" + token.encode()).hexdigest()[:48]


def webhook_listen(settings: Settings) -> tuple[str, int]:
    # Adapter until Settings has webhook_host / webhook_port.
    host = getattr(settings, "webhook_host", None) or os.environ.get("WEBHOOK_HOST", "0.0.0.0")  # noqa: S104
    port = getattr(settings, "webhook_port", None) or int(os.environ.get("WEBHOOK_PORT", "8080"))
    return str(host), int(port)


# -- running ---------------------------------------------------------------------
async def run_telegram(settings: Settings) -> None:
    assert settings.bot_token is not None
    token = settings.bot_token.get_secret_value()
    install_redaction(token)
    async with build_app(settings) as app, redis_of(app, settings) as redis:
        bot = make_bot(token, settings.telegram_api_url)
        try:
            me = await bot.me()
            shared = make_shared(redis, prefix=f"tg:{me.id}:")
            sessions = sessions_of(app)
            # Hand-offs reach the staff chat through this bot (no-op without STAFF_CHAT_ID).
            attach_desk(app.assistant, bot, settings.staff_chat_id, settings.staff_lang)
            idle = IdleHandoffs(
                app.assistant,
                Handoffs(sessions),
                bot,
                idle_hours=settings.handoff_idle_hours,
                staff_lang=settings.staff_lang,
            )
            idle.start()
            dp = build_dispatcher(app.assistant, sessions, shared)
            try:
                await set_bot_commands(bot, app.assistant.t)
            except TelegramAPIError:
                log.warning("command menu not set", exc_info=True)
            sender = PacedSender(bot, sessions, shared.buckets)
            sending = asyncio.create_task(sender.run(), name="outbox")
            try:
                if settings.webhook_url:
                    await serve_webhook(dp, bot, settings, token, shared, app.assistant, sessions)
                else:
                    # The agent console on 127.0.0.1:CONSOLE_PORT (with a webhook it
                    # shares the webhook's server instead).
                    async with console_site(app.assistant, sessions, port=settings.console_port):
                        await poll(dp, bot, shared)
            finally:
                await sender.stop()
                await sending
                await idle.stop()
        finally:
            await bot.session.close()


async def poll(dp: Dispatcher, bot: Bot, shared: Shared) -> None:
    log.info("long polling %s", "Telegram" if bot.session.api is PRODUCTION else "a custom Bot API")
    # getUpdates is refused while a webhook is set.
    await bot.delete_webhook(drop_pending_updates=False)
    await dp.start_polling(
        bot,
        allowed_updates=ALLOWED_UPDATES,
        close_bot_session=False,
        tasks_concurrency_limit=POLLING_CONCURRENCY,
    )
    if not await shared.in_flight.drained(SHUTDOWN_GRACE):
        log.warning("stopping with %d updates still in hand", shared.in_flight.count)
    last = shared.in_flight.last_update_id
    if last is not None:
        # Confirm what was handled, or Telegram hands it to the next poller
        # again (harmless with Redis de-duplication, a repeat without it).
        try:
            await bot.get_updates(offset=last + 1, limit=1, timeout=0)
        except TelegramAPIError:
            log.warning("handled updates not confirmed", exc_info=True)


async def serve_webhook(
    dp: Dispatcher,
    bot: Bot,
    settings: Settings,
    token: str,
    shared: Shared,
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert settings.webhook_url is not None
    secret = webhook_secret(settings, token)
    path = urlsplit(settings.webhook_url).path or "/"
    host, port = webhook_listen(settings)

    app = web.Application()
    # Telegram's secret header is checked by the handler (401 without it).
    SimpleRequestHandler(dp, bot, secret_token=secret, handle_in_background=True).register(
        app, path=path
    )

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "in_flight": shared.in_flight.count})

    app.router.add_get("/healthz", health)
    mount_console(app, assistant, sessions)  # the agent console at /console/
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("webhook listening on %s:%d%s", host, port, path)

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        await stopped.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        # Stop taking requests, finish those in hand, then close (which
        # closes the bot's session too). The webhook stays registered for
        # the other workers.
        await site.stop()
        await asyncio.sleep(0.05)  # let accepted requests' tasks reach the dispatcher
        if not await shared.in_flight.drained(SHUTDOWN_GRACE):
            log.warning("stopping with %d updates still in hand", shared.in_flight.count)
        await runner.cleanup()
