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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions import pdf
from actions.assistant import Assistant
from actions.state import Outage
from bot.app import App, build_app
from bot.console import console_site
from bot.dedupe import Busy, RedisClaims
from bot.dispatcher import ALLOWED_UPDATES, Shared, build_dispatcher, set_bot_commands
from bot.fallback import FallbackBuckets, FallbackClaims
from bot.handlers.staff_relay import attach_desk
from bot.handoff_idle import IdleHandoffs
from bot.health import nlu_status, readiness
from bot.middlewares.ordering import UserLocks
from bot.periodic import PeriodicJob, Supervisor, describe
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


def make_shared(
    redis: Any, prefix: str, *, shared_locks: bool = True, outage: Outage | None = None
) -> Shared:
    """Redis-backed when Redis is configured, process memory otherwise.

    `shared_locks=False` keeps the per-citizen order lock in the process:
    right for long polling, where Telegram hands updates to one poller only
    (a second gets 409 Conflict), and two Redis round trips cheaper an update.
    Webhook workers share one lock in Redis.

    While Redis does not answer, claims, buckets and locks fall back to
    process memory (bot/fallback.py): questions are answered, best effort,
    rather than apologised for. `outage` is shared with the state store."""
    if redis is None:
        return Shared()
    outage = outage or Outage("Redis")
    return Shared(
        claims=FallbackClaims(RedisClaims(redis, prefix), outage),
        buckets=FallbackBuckets(RedisBuckets(redis, prefix), outage),
        locks=UserLocks(redis if shared_locks else None, prefix, outage=outage),
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
SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_telegram(settings: Settings) -> None:
    """Until SIGTERM / SIGINT, which end it cleanly (the process exits 0):
    while starting, by cancelling the start; once serving, by letting the
    updates in hand finish."""
    assert settings.bot_token is not None
    token = settings.bot_token.get_secret_value()
    install_redaction(token)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    main = asyncio.current_task()
    serving = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        log.warning("received %s: stopping", sig.name)
        stopping.set()
        if not serving.is_set() and main is not None:
            main.cancel()  # still starting: nothing in hand to finish

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await _run_telegram(settings, token, stopping, serving)
    except asyncio.CancelledError:
        if not stopping.is_set():
            raise
        log.warning("stopped while starting")
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def _run_telegram(
    settings: Settings, token: str, stopping: asyncio.Event, serving: asyncio.Event
) -> None:
    async with build_app(settings) as app, redis_of(app, settings) as redis:
        kb = app.assistant.kb
        title = kb.standard_title(kb.form.standard, "kk")
        if not await pdf.warm_up_async(kb.form, app.assistant.t, title):
            log.warning("no font for application PDFs: set PDF_FONT")
        bot = make_bot(token, settings.telegram_api_url)
        supervisor = Supervisor()
        try:
            me = await bot.me()
            shared = make_shared(
                redis,
                prefix=f"tg:{me.id}:",
                shared_locks=bool(settings.webhook_url),
                outage=getattr(app, "redis_outage", None),
            )
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
            jobs = (*getattr(app, "jobs", ()), idle)
            dp = build_dispatcher(app.assistant, sessions, shared)
            try:
                await set_bot_commands(bot, app.assistant.t)
            except TelegramAPIError:
                log.warning("command menu not set", exc_info=True)
            sender = PacedSender(bot, sessions, shared.buckets)
            # Supervised: a pass that fails is retried after a backoff (in
            # `run`), and a sender that dies anyway is started again.
            supervisor.start("outbox", sender.run)

            def status() -> dict[str, Any]:
                return background_status(supervisor, jobs, app)

            try:
                serving.set()
                if stopping.is_set():
                    return
                if settings.webhook_url:
                    # The console never on the public webhook port: its own
                    # listener on 127.0.0.1:CONSOLE_PORT, as when polling.
                    async with console_site(
                        app.assistant, sessions, port=settings.console_port, redis=redis
                    ):
                        await serve_webhook(
                            dp,
                            bot,
                            settings,
                            token,
                            shared,
                            app.assistant,
                            sessions,
                            stopping=stopping,
                            status=status,
                            ready=lambda: readiness(sessions, redis, app.assistant.nlu),
                        )
                else:
                    # The agent console on 127.0.0.1:CONSOLE_PORT.
                    async with console_site(
                        app.assistant, sessions, port=settings.console_port, redis=redis
                    ):
                        await poll(dp, bot, shared, stopping=stopping, supervisor=supervisor)
            finally:
                await _quietly("outbox sender", sender.stop())
                await _quietly("background tasks", supervisor.stop())
                await _quietly("idle hand-offs", idle.stop())
                log.info("background tasks at stop: %s", status())
        finally:
            await _quietly("Bot API session", bot.session.close())


async def _quietly(what: str, step: Awaitable[Any]) -> None:
    """One step of the shutdown; a failure is logged and the next step runs."""
    try:
        await step
    except Exception as exc:
        log.error("%s not stopped cleanly (%s)", what, describe(exc))


def background_status(
    supervisor: Supervisor, jobs: Iterable[PeriodicJob], app: App | None = None
) -> dict[str, Any]:
    """Restarts of the supervised tasks and failed passes of the jobs (for
    /healthz and the log)."""
    restarts = dict(supervisor.restarts)
    failures: dict[str, int] = {}
    for job in jobs:
        restarts[job.name] = job.restarts
        failures[job.name] = job.failures
    status: dict[str, Any] = {"restarts": restarts, "failed_passes": failures}
    if app is not None:
        status["nlu"] = nlu_status(app.assistant.nlu)
    outage = getattr(app, "redis_outage", None)
    if outage is not None:
        status["redis"] = "down" if outage.down else "up"
        status["redis_outages"] = outage.outages
    return status


# -- long polling: at least once -------------------------------------------------
POLL_TIMEOUT = 10  # seconds a getUpdates waits for news (aiogram's default)
SKIP_WAIT = 0.3  # seconds between polls when all Telegram returns is still in hand
BUSY_RETRY = 1.0  # seconds between looks at an update another process is handling
HOLD_LIMIT = 30.0  # an update in hand longer than this no longer holds the offset back
# getUpdates returns at most 100 updates from the offset: an update in hand
# with this many newer ones seen stops holding the offset back, so that new
# updates keep coming in under a burst (a slow update must not stall the rest).
HOLD_WINDOW = 50


class Poller:
    """getUpdates, each update handled in a task of its own (at most
    `concurrency` at once), and an offset that confirms an update to
    Telegram only once it was handled: the offset sent is the smallest id
    still in hand, or the last seen + 1 when none is. A process killed
    mid-update therefore gets it back when it restarts (and the two-stage
    de-duplication, bot/middlewares/dedupe.py, hands it over once the dead
    process's lease lapsed).

    While an update is in hand Telegram returns it (and everything after
    it) at once to every poll: those in hand here are skipped, and when
    nothing new came the next poll waits for one of them to finish, or
    SKIP_WAIT. An update another process is handling (`Busy`) is tried
    again every BUSY_RETRY (or when its lease runs out, if sooner). One
    in hand longer than HOLD_LIMIT, or with HOLD_WINDOW newer updates seen,
    stops holding the offset back (a stuck or slow handler must not stall
    everyone behind a full batch)."""

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        *,
        allowed_updates: list[str] | None = None,
        concurrency: int = POLLING_CONCURRENCY,
        timeout: int = POLL_TIMEOUT,
        skip_wait: float = SKIP_WAIT,
        busy_retry: float = BUSY_RETRY,
        hold_limit: float = HOLD_LIMIT,
        backoff: BackoffConfig = DEFAULT_BACKOFF_CONFIG,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.dp = dp
        self.bot = bot
        self.allowed_updates = allowed_updates
        self.timeout = timeout
        self.skip_wait = skip_wait
        self.busy_retry = busy_retry
        self.hold_limit = hold_limit
        self.backoff = backoff
        self.data = data or {}  # for the handlers, as start_polling's workflow data
        self.in_hand: dict[int, float] = {}  # update id -> since (monotonic)
        self.busy: dict[int, tuple[float, float]] = {}  # id -> (first seen, retry at)
        self.finished: set[int] = set()  # handled here, maybe not confirmed yet
        self.abandoned: set[int] = set()  # cut off at shutdown: never confirmed
        self.last_seen: int | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = asyncio.get_running_loop().time

    # -- the offset ---------------------------------------------------------------
    def offset(self) -> int | None:
        now = self._clock()
        held = [i for i, since in self.in_hand.items() if now - since < self.hold_limit]
        held += [i for i, (since, _) in self.busy.items() if now - since < self.hold_limit]
        held += self.abandoned
        if held and self.last_seen is not None:
            held = [i for i in held if self.last_seen - i < HOLD_WINDOW]
        if held:
            return min(held)
        return None if self.last_seen is None else self.last_seen + 1

    # -- running ------------------------------------------------------------------------
    async def run(self) -> None:
        """Until `stopping` is set; then the updates in hand are left running
        (see `drain`)."""
        backoff = Backoff(self.backoff)
        failed = False
        kwargs: dict[str, Any] = {}
        if self.bot.session.timeout:
            kwargs["request_timeout"] = int(self.bot.session.timeout + self.timeout)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                offset = self.offset()
                request = GetUpdates(
                    offset=offset, timeout=self.timeout, allowed_updates=self.allowed_updates
                )
                self._changed.clear()
                polling = asyncio.ensure_future(self.bot(request, **kwargs))
                await asyncio.wait({polling, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not polling.done():
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await polling
                    break
                try:
                    updates = polling.result()
                except Exception as exc:  # Telegram or the network: later, again
                    failed = True
                    log.error("getUpdates failed: %s: %s", type(exc).__name__, exc)
                    await self._pause(next(backoff))
                    continue
                if failed:
                    log.info("getUpdates works again")
                    backoff.reset()
                    failed = False
                if offset is not None:  # confirmed below `offset`
                    self.finished = {i for i in self.finished if i >= offset}
                started = await self._start(updates)
                if updates and not started and not self.stopping.is_set():
                    # Nothing new: not again at once (Telegram would answer at once).
                    await self._pause(self.skip_wait, wake=self._changed)
        finally:
            stop.cancel()

    async def _start(self, updates: list[Update]) -> int:
        started = 0
        for update in updates:
            uid = update.update_id
            if self.last_seen is None or uid > self.last_seen:
                self.last_seen = uid
            if uid in self.in_hand or uid in self.finished:
                continue
            retry = self.busy.get(uid)
            if retry is not None and retry[1] > self._clock():
                continue
            await self._slots.acquire()
            self.in_hand[uid] = self._clock()
            task = asyncio.create_task(self._handle(update), name=f"update-{uid}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            started += 1
        return started

    async def _handle(self, update: Update) -> None:
        uid = update.update_id
        result: Any = None
        try:
            result = await self.dp.feed_update(
                self.bot, update, **self.data, release_update=lambda: self._release(uid)
            )
            if isinstance(result, TelegramMethod):
                await self.dp.silent_call_request(bot=self.bot, result=result)
        except asyncio.CancelledError:
            self.abandoned.add(uid)
            raise
        except Exception:
            # Handled, badly (aiogram's poller counts it handled too): logged, confirmed.
            log.exception("update %s failed", uid)
        finally:
            self._slots.release()
            self.in_hand.pop(uid, None)
            self._changed.set()
        if isinstance(result, Busy):
            now = self._clock()
            first = self.busy.get(uid, (now, now))[0]
            wait = min(self.busy_retry, max(result.retry_after, 0.05))
            self.busy[uid] = (first, now + wait)
        else:
            self.busy.pop(uid, None)
            self.finished.add(uid)

    def _release(self, uid: int) -> None:
        """The handler's remaining work is optional (a fragment's reply waiting
        for the rest of a burst, bot/bursts.py): the update stops holding the
        offset back, so the poll goes on fetching the next ones at once. Lost
        on a crash meanwhile: that reply only; the fragment is kept already."""
        if self.in_hand.pop(uid, None) is not None:
            self.finished.add(uid)
            self._changed.set()

    async def _pause(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        waits = [asyncio.ensure_future(self.stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def drain(self, grace: float) -> bool:
        """Wait up to `grace` for the updates in hand; cancel the rest (not
        confirmed: Telegram hands them to the next process)."""
        pending = set(self.tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return not pending

    async def confirm(self) -> None:
        """Tell Telegram what was handled (the next process starts after it)."""
        offset = self.offset()
        if offset is None:
            return
        try:
            await self.bot.get_updates(offset=offset, limit=1, timeout=0)
        except TelegramAPIError:
            log.warning("handled updates not confirmed", exc_info=True)


async def poll(
    dp: Dispatcher,
    bot: Bot,
    shared: Shared,
    *,
    stopping: asyncio.Event | None = None,
    supervisor: Supervisor | None = None,
) -> None:
    """Long polling until `stopping` is set (by default: until SIGTERM /
    SIGINT), then the updates in hand get SHUTDOWN_GRACE to finish and what
    was handled is confirmed. aiogram's `start_polling` is not used: it
    confirms an update as soon as it starts handling it, so one the process
    dies in the middle of is lost. The poller's loop is supervised: one that
    dies is started again (after a backoff), its updates in hand kept."""
    log.info("long polling %s", "Telegram" if bot.session.api is PRODUCTION else "a custom Bot API")
    # getUpdates is refused while a webhook is set.
    await bot.delete_webhook(drop_pending_updates=False)
    workflow = {"dispatcher": dp, "bots": (bot,), **dp.workflow_data}
    workflow.pop("bot", None)
    poller = Poller(
        dp,
        bot,
        allowed_updates=ALLOWED_UPDATES,
        concurrency=POLLING_CONCURRENCY,
        data=workflow,
    )
    loop = asyncio.get_running_loop()
    own_signals = stopping is None
    if stopping is None:
        stopping = asyncio.Event()

        def stop(sig: signal.Signals) -> None:
            log.warning("received %s: stopping", sig.name)
            assert stopping is not None
            stopping.set()

        for sig in SIGNALS:
            loop.add_signal_handler(sig, stop, sig)
    relay = asyncio.ensure_future(_relay(stopping, poller.stopping))
    supervisor = supervisor or Supervisor()
    await dp.emit_startup(bot=bot, **workflow)
    try:
        log.info("polling for updates")
        await supervisor.keep("poller", poller.run, stopping=poller.stopping)
    finally:
        relay.cancel()
        if own_signals:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
        try:
            if not await poller.drain(SHUTDOWN_GRACE):
                log.warning("stopped with updates still in hand: they are not confirmed")
            if not await shared.in_flight.drained(1.0):
                log.warning("stopping with %d updates still in hand", shared.in_flight.count)
            await poller.confirm()
        finally:
            await dp.emit_shutdown(bot=bot, **workflow)


async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


WEBHOOK_ANSWER_WITHIN = 50.0  # seconds; Telegram gives a webhook about 60


class AnswerWhenHandled(SimpleRequestHandler):
    """Answers Telegram once the update was handled, not on arrival: a
    worker that dies mid-update never answered, so Telegram delivers the
    update again (to this or another worker, which takes it over when the
    dead one's handling lease lapsed). An update another worker is handling
    gets a 503: Telegram tries it again later. One whose handling outlasts
    WEBHOOK_ANSWER_WITHIN is answered 200 and finishes in the background
    (or Telegram would send it again meanwhile)."""

    def __init__(self, dp: Dispatcher, bot: Bot, *, secret_token: str, **data: Any) -> None:
        super().__init__(dp, bot, handle_in_background=False, secret_token=secret_token, **data)
        self._late: set[asyncio.Task[Any]] = set()

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        raw = await request.json(loads=bot.session.json_loads)
        update = Update.model_validate(raw, context={"bot": bot})
        released = asyncio.Event()
        task = asyncio.ensure_future(
            self.dispatcher.feed_update(bot, update, **self.data, release_update=released.set)
        )
        waiting = asyncio.ensure_future(released.wait())
        try:
            done, _ = await asyncio.wait(
                {task, waiting}, timeout=WEBHOOK_ANSWER_WITHIN, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiting.cancel()
        if task not in done:
            if not released.is_set():
                log.warning("update %s: slow, answered before it was handled", update.update_id)
            # Released: what is left is optional (a fragment's reply waiting for
            # the rest of a burst); Telegram may send the next update meanwhile.
            self._late.add(task)
            task.add_done_callback(self._late_done)
            return web.json_response({})
        try:
            result = task.result()
        except Exception:
            # Handled, badly (its claim says done): a redelivery would be dropped.
            log.exception("update %s failed", update.update_id)
            return web.json_response({})
        if isinstance(result, Busy):
            return web.json_response(
                {"ok": False, "description": "being handled elsewhere"},
                status=503,
                headers={"Retry-After": str(max(1, round(result.retry_after)))},
            )
        if isinstance(result, TelegramMethod):
            return web.Response(body=self._build_response_writer(bot=bot, result=result))
        return web.json_response({})

    def _late_done(self, task: asyncio.Task[Any]) -> None:
        self._late.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a slow update failed", exc_info=task.exception())
            return
        result = None if task.cancelled() else task.result()
        if isinstance(result, TelegramMethod):
            late = asyncio.ensure_future(self.dispatcher.silent_call_request(self.bot, result))
            self._late.add(late)
            late.add_done_callback(self._late.discard)


async def serve_webhook(
    dp: Dispatcher,
    bot: Bot,
    settings: Settings,
    token: str,
    shared: Shared,
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    *,
    stopping: asyncio.Event | None = None,
    status: Callable[[], dict[str, Any]] | None = None,
    ready: Callable[[], Awaitable[dict[str, bool]]] | None = None,
) -> None:
    assert settings.webhook_url is not None
    secret = webhook_secret(settings, token)
    path = urlsplit(settings.webhook_url).path or "/"
    host, port = webhook_listen(settings)

    loop = asyncio.get_running_loop()
    own_signals = stopping is None
    stopped = stopping or asyncio.Event()
    app = web.Application()
    # Telegram's secret header is checked by the handler (401 without it).
    AnswerWhenHandled(dp, bot, secret_token=secret).register(app, path=path)

    async def health(_: web.Request) -> web.Response:
        body: dict[str, Any] = {"ok": True, "in_flight": shared.in_flight.count}
        if status is not None:
            body.update(status())
        return web.json_response(body)

    async def readyz(_: web.Request) -> web.Response:
        # Not ready while stopping either: the balancer sends the next
        # updates elsewhere while this worker finishes those in hand.
        parts = await ready() if ready is not None else {}
        ok = all(parts.values()) and not stopped.is_set()
        return web.json_response(
            {"ready": ok, **parts, "stopping": stopped.is_set()}, status=200 if ok else 503
        )

    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("webhook listening on %s:%d%s", host, port, path)

    if own_signals:
        for sig in SIGNALS:
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
        if own_signals:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
        # Stop taking requests, finish those in hand, then close (which
        # closes the bot's session too). The webhook stays registered for
        # the other workers.
        await site.stop()
        await asyncio.sleep(0.05)  # let accepted requests' tasks reach the dispatcher
        if not await shared.in_flight.drained(SHUTDOWN_GRACE):
            log.warning("stopping with %d updates still in hand", shared.in_flight.count)
        await runner.cleanup()
