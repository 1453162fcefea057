"""Telegram front end figures: updates a second through the Dispatcher
(middlewares, filters, handlers, the assistant, rendering, HTTP to a fake
Bot API server) and the latency from an update to its reply (p50/p99).

The NLU is the light classifier (no Rasa server): this measures the
transport and the dialogue around it, not Rasa's parse (see bench.nlu).
Updates are fed the way the poller feeds them, one task per update; each
simulated citizen asks a few questions one after another.

    python -m bench telegram        (or: python -m bench.telegram)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiogram.types import Update

from actions.assistant import Assistant
from actions.state import MemoryStateStore, RedisStateStore, StateStore
from bot.dispatcher import Shared, build_dispatcher
from bot.ratelimit import FloodPolicy
from bot.telegram import make_bot, make_shared, redis_client
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import load_or_train
from nlu.pipeline import NLU
from nlu.rasa import MODEL_DIR
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.users import SqlUserDirectory
from tests.fakes.telegram_api import FakeTelegram

QUESTIONS = [
    ("ru", "Какие документы нужны для дубликата диплома?"),
    ("ru", "Сколько дней делают дубликат в ЦОНе?"),
    ("ru", "Когда принимают заявления на грант?"),
    ("kk", "Дипломның телнұсқасын алу үшін қандай құжаттар керек?"),
    ("kk", "Телнұсқа қанша күнде дайын болады?"),
    ("kk", "Грантқа өтінішті қашан береміз?"),
    ("ru", "/start"),
    ("kk", "/help"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def _measure(
    backend: str, users: int, per_user: int, redis_url: str | None
) -> dict[str, Any]:
    light = await asyncio.to_thread(load_or_train, cache_dir=MODEL_DIR)
    kb, calendar = KnowledgeBase.load(), Calendar.load()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await create_schema(engine)
        sessions = make_sessionmaker(engine)
        redis: Any = None
        if redis_url:
            redis = redis_client(redis_url)
        prefix = f"bench:{random.getrandbits(40)}:"
        states: StateStore = (
            RedisStateStore(redis, prefix=prefix + "conv") if redis else MemoryStateStore()
        )
        assistant = Assistant(
            NLU(client=None, light=light),
            kb,
            calendar,
            states=states,
            users=SqlUserDirectory(sessions),
        )
        shared = make_shared(redis, prefix) if redis else Shared()
        # A benchmark citizen is no flooder.
        shared.flood = FloodPolicy(burst=10_000, rate=10_000)
        async with FakeTelegram() as fake:
            bot = make_bot("4242:BENCH", fake.url)
            dp = build_dispatcher(assistant, sessions, shared)
            try:
                # Warm up: first-use costs (connections, caches) are not what we measure.
                await dp.feed_update(
                    bot, Update.model_validate(fake.text(1, "/start"), context={"bot": bot})
                )
                latencies: list[float] = []
                replies_seen = fake.mark()

                async def citizen(user_id: int) -> None:
                    for i in range(per_user):
                        lang, text = QUESTIONS[(user_id + i) % len(QUESTIONS)]
                        raw = fake.text(user_id, text, lang=lang)
                        mark = fake.mark()
                        started = time.monotonic()
                        await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
                        first = fake.of("sendMessage", chat_id=user_id, since=mark)
                        if first:
                            latencies.append(first[0].at - started)

                started = time.monotonic()
                await asyncio.gather(*(citizen(10_000 + u) for u in range(users)))
                elapsed = time.monotonic() - started
                updates = users * per_user
                sent = len(fake.of("sendMessage", since=replies_seen))
            finally:
                await bot.session.close()
                if redis is not None:
                    await redis.aclose()
                await engine.dispose()
    return {
        "backend": backend,
        "updates": updates,
        "citizens": users,
        "messages_sent": sent,
        "seconds": round(elapsed, 2),
        "updates_per_s": round(updates / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 1),
            "p99": round(percentile(latencies, 99) * 1000, 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1),
        },
    }


async def run() -> dict[str, Any]:
    """Two loads per back end: saturation (many citizens at once: the
    throughput, and latency with a queue) and a light load (a few citizens:
    the latency of one update on an idle bot)."""
    heavy = int(os.environ.get("BENCH_TG_CITIZENS", "200"))
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    backends: list[tuple[str, str | None]] = [("memory", None)]
    redis_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if redis_url:
        backends.append(("redis", redis_url))
    runs = []
    for name, url in backends:
        with contextlib.suppress(OSError):
            saturated = await _measure(name, heavy, 5, url)
            light = await _measure(name, 4, 25, url)
            runs.append(
                {
                    "backend": name,
                    "updates_per_s": saturated["updates_per_s"],
                    "saturated": saturated,
                    "light_load": light,
                }
            )
    return {"nlu": "light classifier (no Rasa)", "cores": os.cpu_count(), "runs": runs}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2) + "\n")
