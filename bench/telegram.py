"""Telegram front end figures, as issue 4 asks for them.

1. Throughput: question updates a second through the Dispatcher
   (`feed_update`: middlewares, filters, handlers, the assistant, rendering,
   HTTP to a fake Bot API server), state in memory and in Redis. The NLU is
   the in-process light classifier, so the figure is what one bot process
   does; the fake Telegram runs in a process of its own, as Telegram is not
   the bot's CPU either. Also with the real Rasa server in the loop, which
   is then the ceiling on this machine.
2. Latency with the real Rasa server (started here on a free port, with a
   token): for each update, the time from `feed_update` to the reply's
   `sendMessage` answered, the time of Rasa's `/model/parse` inside it, and
   their difference, which is what the bot adds on top of the parse.

    python -m bench bench.telegram        (or: python -m bench.telegram)

The Redis variant runs when TEST_REDIS_URL or REDIS_URL is set.
BENCH_TG_CITIZENS (default 200) citizens at once for throughput,
BENCH_TG_ROUNDS (default 3) questions each; BENCH_TG_RASA=0 skips Rasa.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import SendMessage
from aiogram.types import Update

from actions.assistant import Assistant
from actions.state import MemoryStateStore, RedisStateStore, StateStore
from bot.dispatcher import Shared, build_dispatcher
from bot.languages import RememberedLanguages
from bot.ratelimit import FloodPolicy
from bot.telegram import make_bot, make_shared, redis_client
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.embed import one_blas_thread
from nlu.light import LightModels, load_or_train
from nlu.pipeline import NLU
from nlu.rasa import MODEL_DIR, MODEL_PATH, RASA_VENV, RasaClient, RasaServer, start_server
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.users import SqlUserDirectory

REPO = Path(__file__).resolve().parent.parent
RASA_CITIZENS = 48

# Questions only: what a citizen types (no commands, no buttons).
QUESTIONS = [
    ("ru", "Какие документы нужны для дубликата диплома?"),
    ("ru", "Сколько дней делают дубликат в ЦОНе?"),
    ("ru", "Когда принимают заявления на грант?"),
    ("ru", "где подать заявление на дубликат"),
    ("kk", "Дипломның телнұсқасын алу үшін қандай құжаттар керек?"),
    ("kk", "Телнұсқа қанша күнде дайын болады?"),
    ("kk", "Грантқа өтінішті қашан береміз?"),
    ("kk", "телнускани кайдан аламын"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "mean": round(statistics.fmean(values) * 1000, 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- what one update cost --------------------------------------------------------
@dataclass
class Timing:
    started: float
    replied: float | None = None  # the first sendMessage answered by the server
    rasa: float = 0.0  # inside Rasa's /model/parse (HTTP round trip)
    nlu: float = 0.0  # the whole NLU.parse (normalising, language, Rasa)


_timing: contextvars.ContextVar[Timing | None] = contextvars.ContextVar("timing", default=None)


def _timed(attr: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            timing = _timing.get()
            if timing is not None:
                setattr(timing, attr, getattr(timing, attr) + time.perf_counter() - t0)

    return wrapper


def _instrument(nlu: NLU) -> None:
    nlu.parse = _timed("nlu", nlu.parse)  # type: ignore[method-assign,assignment]
    if nlu.client is not None:
        nlu.client.parse = _timed("rasa", nlu.client.parse)  # type: ignore[method-assign,assignment]


async def _note_reply(make_request: Any, bot: Bot, method: Any) -> Any:
    """Session middleware: when the first reply of an update is answered."""
    response = await make_request(bot, method)
    timing = _timing.get()
    if timing is not None and timing.replied is None and isinstance(method, SendMessage):
        timing.replied = time.perf_counter()
    return response


# -- the fake Telegram in a process of its own ---------------------------------------------
@contextlib.asynccontextmanager
async def fake_telegram_process() -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        if not url:
            raise RuntimeError("the fake Bot API server did not start")
        yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- one bot, one load ---------------------------------------------------------------
@dataclass
class Setup:
    light: LightModels
    kb: KnowledgeBase
    calendar: Calendar
    api_url: str
    redis_url: str | None = None
    rasa: RasaServer | None = None


@dataclass
class BenchBot:
    """A bot as the benchmarks drive it: updates go to `dp.feed_update(bot, ...)`."""

    bot: Bot
    dp: Dispatcher
    nlu: NLU
    # update(user id, text, language code): a private text message from that citizen
    update: Callable[[int, str, str], Update]


@contextlib.asynccontextmanager
async def bench_bot(
    setup: Setup, *, update_ids: int, rasa_timeout: float = 10.0, rasa_retries: int = 1
) -> AsyncIterator[BenchBot]:
    """The whole bot on one Dispatcher: SQLite in a temporary directory,
    conversation state in memory (in Redis with `setup.redis_url`), the NLU
    on `setup.rasa` (`RasaClient(url, token, timeout=rasa_timeout,
    retries=rasa_retries)`) or on the light classifier alone, the assistant,
    a flood policy no benchmark citizen trips, and a Bot for the fake Bot API
    at `setup.api_url` that notes each update's first reply (`Timing`, set
    per update in `_timing`). Update ids start above `update_ids`."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await create_schema(engine)
        sessions = make_sessionmaker(engine)
        redis: Any = redis_client(setup.redis_url) if setup.redis_url else None
        prefix = f"bench:{random.getrandbits(40)}:"
        states: StateStore = (
            RedisStateStore(redis, prefix=prefix + "conv") if redis else MemoryStateStore()
        )
        client = (
            RasaClient(setup.rasa.url, setup.rasa.token, timeout=rasa_timeout, retries=rasa_retries)
            if setup.rasa is not None
            else None
        )
        nlu = NLU(client=client, light=setup.light)
        _instrument(nlu)
        assistant = Assistant(
            nlu,
            setup.kb,
            setup.calendar,
            states=states,
            users=RememberedLanguages(SqlUserDirectory(sessions)),
        )
        # As bot/app.py starts the bot: numpy's idle BLAS threads would spin
        # after each product and double the CPU per message; the index and
        # the encoder loaded before the first update.
        one_blas_thread()
        await asyncio.to_thread(assistant.ranker.warm)
        # As the bot polls: the order lock in the process (see make_shared).
        shared = make_shared(redis, prefix, shared_locks=False) if redis else Shared()
        # A benchmark citizen is no flooder.
        shared.flood = FloodPolicy(burst=10_000, rate=10_000)
        bot = make_bot("4242:BENCH", setup.api_url)
        bot.session.middleware(_note_reply)
        dp = build_dispatcher(assistant, sessions, shared)
        ids = iter(range(10**9, 2 * 10**9))

        def update(user_id: int, text: str, lang: str) -> Update:
            raw: dict[str, Any] = {
                "update_id": update_ids + next(ids),
                "message": {
                    "message_id": next(ids),
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": "Bench",
                        "language_code": lang,
                    },
                    "text": text,
                },
            }
            return Update.model_validate(raw, context={"bot": bot})

        try:
            yield BenchBot(bot, dp, nlu, update)
        finally:
            if client is not None:
                await client.close()
            await bot.session.close()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()


async def _load(setup: Setup, citizens: int, rounds: int, *, first_user: int) -> dict[str, Any]:
    """`citizens` at once, each asking `rounds` questions one after another."""
    timings: list[Timing] = []
    async with bench_bot(setup, update_ids=first_user * 1000) as b:

        async def citizen(user_id: int, record: bool) -> None:
            for i in range(rounds):
                lang, text = QUESTIONS[(user_id + i) % len(QUESTIONS)]
                timing = Timing(time.perf_counter())
                token = _timing.set(timing)
                try:
                    await b.dp.feed_update(b.bot, b.update(user_id, text, lang))
                finally:
                    _timing.reset(token)
                if record:
                    timings.append(timing)

        # Warm up: first-use costs (connections, caches, the first parse).
        await asyncio.gather(*(citizen(first_user - 1 - u, False) for u in range(8)))
        cpu0, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(citizen(first_user + u, True) for u in range(citizens)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    answered = [t for t in timings if t.replied is not None]
    latency = [t.replied - t.started for t in answered if t.replied is not None]
    result: dict[str, Any] = {
        "updates": len(timings),
        "answered": len(answered),
        "citizens": citizens,
        "seconds": round(elapsed, 2),
        "updates_per_s": round(len(timings) / elapsed, 1),
        "bot_cpu_ms_per_update": round(cpu / max(1, len(timings)) * 1000, 2),
        "latency_ms": _ms(latency),
    }
    if setup.rasa is not None:
        # Updates answered by the fallback classifier because Rasa did not answer in time.
        result["nlu_degraded"] = b.nlu.stats.degraded
        result["rasa_parse_ms"] = _ms([t.rasa for t in answered])
        result["nlu_pipeline_ms"] = _ms([t.nlu for t in answered])
        result["bot_added_ms"] = _ms(
            [t.replied - t.started - t.rasa for t in answered if t.replied is not None]
        )
    return result


async def _rasa_alone(server: RasaServer, n: int = 200) -> dict[str, float]:
    """Rasa's parse on its own, one request at a time, same questions."""
    client = RasaClient(server.url, server.token, timeout=10.0)
    took: list[float] = []
    try:
        for i in range(n):
            text = QUESTIONS[i % len(QUESTIONS)][1]
            t0 = time.perf_counter()
            await client.parse(text)
            took.append(time.perf_counter() - t0)
    finally:
        await client.close()
    return _ms(took)


async def run() -> dict[str, Any]:
    citizens = int(os.environ.get("BENCH_TG_CITIZENS", "200"))
    rounds = int(os.environ.get("BENCH_TG_ROUNDS", "3"))
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    light = await asyncio.to_thread(load_or_train, cache_dir=MODEL_DIR)
    redis_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    out: dict[str, Any] = {"cores": os.cpu_count(), "fake_telegram": "separate process"}
    async with fake_telegram_process() as api_url:
        base = Setup(light, KnowledgeBase.load(), Calendar.load(), api_url)
        throughput: dict[str, Any] = {}
        for name, url in [("memory", None), ("redis", redis_url)]:
            if name == "redis" and not url:
                continue
            setup = Setup(base.light, base.kb, base.calendar, api_url, redis_url=url)
            runs = [
                await _load(setup, citizens, rounds, first_user=10_000 + k * 5000) for k in (0, 1)
            ]
            best = max(runs, key=lambda r: r["updates_per_s"])
            throughput[name] = {
                "updates_per_s": best["updates_per_s"],
                "runs_updates_per_s": [r["updates_per_s"] for r in runs],
                **{k: v for k, v in best.items() if k != "updates_per_s"},
            }
        out["throughput_light_nlu"] = throughput

        with_rasa = os.environ.get("BENCH_TG_RASA", "1") != "0"
        if with_rasa and MODEL_PATH.exists() and (RASA_VENV / "bin" / "rasa").exists():
            server = await start_server(
                f"http://127.0.0.1:{_free_port()}", token=secrets.token_hex(16)
            )
            try:
                await _rasa_alone(server, 50)  # warm up
                rasa = Setup(base.light, base.kb, base.calendar, api_url, rasa=server)
                out["rasa_parse_alone_ms"] = await _rasa_alone(server)
                # One citizen at a time: an idle bot, the latency of one update.
                out["latency_rasa_1_citizen"] = await _load(rasa, 1, 200, first_user=60_000)
                out["latency_rasa_4_citizens"] = await _load(rasa, 4, 50, first_user=70_000)
                # Rasa parses one message at a time: past a few dozen waiting
                # requests the client's timeouts send updates to the fallback
                # classifier, and that would be measured instead of Rasa.
                out["throughput_rasa"] = await _load(
                    rasa, min(citizens, RASA_CITIZENS), rounds * 2, first_user=80_000
                )
            finally:
                await server.stop()
        else:
            out["rasa"] = "skipped (no model, no .venv-rasa, or BENCH_TG_RASA=0)"
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2) + "\n")
