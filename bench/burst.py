"""Open-loop burst: replies stay fast while new citizens pour in.

Measured on the 2-core development machine (one bot process, one Rasa
server), 2026-12-05, 15 s a rate: 15/s p50 54 ms (p99 1.2 s: the fragments
held by design); 30/s p50 126 ms, p99 2.6 s; 50/s p50 44 ms, p99 8.5 s, all
answered. No parse was slow at Rasa (nlu_slow 0): the bot process is the
limit, 47 ms of CPU per message of citizen text, most of it the one meaning
embedding per message (21 ms a short message, 43 ms a long story, one
encoder thread). The default rates are around that knee; docs/deploy.md
sizes workers from it.

The issue: "bursts such as the grant application week keep replies fast".
In such a week citizens do not wait for each other's replies: messages
arrive at Telegram's rate, whatever the bot's pace. So this part is open
loop (bench/telegram.py is closed: a citizen asks again only once answered).
Update i is fed at t0 + i/rate in a task of its own; the sender never waits
for a reply, and one that falls behind schedule feeds what is due at once.

What runs: the real Dispatcher (`feed_update`: middlewares, filters,
handlers, the assistant, rendering, HTTP to the fake Bot API), built as
bench/telegram.py builds it (`bench_bot`: state in memory, SQLite in a
temporary directory); the fake Bot API in a process of its own; the real
Rasa server, started here on a free port with a token. The NLU is built as
production builds it, `RasaClient(url, token, timeout=2.0, retries=1)`, so
`NLU.slow_after` (nlu/pipeline.py SLOW_AFTER) is in effect: a parse Rasa has
not given within it is answered by the fallback classifier, for that
message only. Under a burst that is what keeps replies fast, and what this
part shows: the latency, and how many messages were read without Rasa.

The messages: every citizen turn of the evaluation conversations
(data/eval/conversations/*.yml), shuffled with a fixed seed, each from a
new citizen (language_code "ru"), cycled when a rate needs more. Nearly all
are distinct, as in a real burst: few parse-cache hits.

    python -m bench burst

BENCH_BURST_RATES (default "15,30,50") updates a second, each for
BENCH_BURST_SECONDS (default 20) s; a fresh bot for each rate (the same Rasa
server, idle again first), after WARMUP updates that are not counted.

Figures, for each rate:
- sent, and send_rate_per_s: updates fed over the time from the first to the
  last; below `rate` when this process could not keep the schedule
  (send_lag_ms: how late updates were fed).
- answered: updates whose reply (a sendMessage) the fake Bot API answered,
  waiting up to STRAGGLERS s after the last one was sent.
- latency_ms: from the moment the update was due (its place in the
  schedule, so that a late feed counts too) to its first reply answered.
  A fragment ("здравствуйте") is answered after BurstPolicy.wait (1.2 s,
  bot/bursts.py) by design: `held` counts the replies that waited so.
- nlu_slow: parses Rasa did not give within slow_after (fallback answered);
  nlu_degraded: all parses the fallback classifier answered (slow, and Rasa
  failed or out); rasa_failed: the client gave up (timeout, error);
  cache_hits: parses from the NLU's cache of recent texts. Warm-up excluded.
- errors: `feed_update` raised; handler_errors: an update's handling failed
  and the citizen got the apology (bot/handlers/errors.py); unfinished:
  updates still being handled STRAGGLERS s after the last send (cancelled).
"ok" is false when an update was not answered or any error occurred.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

import yaml
from aiogram.methods import SendChatAction

from bench.telegram import (
    REPO,
    BenchBot,
    Setup,
    Timing,
    _free_port,
    _ms,
    _timing,
    bench_bot,
    fake_telegram_process,
    percentile,
)
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import load_or_train
from nlu.pipeline import SLOW_AFTER, NLUStats
from nlu.rasa import MODEL_DIR, MODEL_PATH, RASA_VENV, RasaClient, RasaServer, start_server

CONVERSATIONS = REPO / "data" / "eval" / "conversations"
SEED = 1414
WARMUP = 20  # updates before each rate, not counted
STRAGGLERS = 30.0  # seconds to wait for replies after the last update was sent
# As production builds its client (NLU.create, bot/settings.py).
RASA_TIMEOUT = 2.0
RASA_RETRIES = 1
FIRST_USER = 500_000_000  # citizen ids: FIRST_USER + rate index * USERS_PER_RATE + i
USERS_PER_RATE = 10_000_000


def citizen_texts() -> list[str]:
    """Every citizen turn of the evaluation conversations, shuffled (SEED)."""
    texts: list[str] = []
    for path in sorted(CONVERSATIONS.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in data.get("conversations") or []:
            for turn in conversation.get("turns") or []:
                if isinstance(turn.get("user"), str) and turn["user"].strip():
                    texts.append(turn["user"])
    random.Random(SEED).shuffle(texts)
    return texts


@dataclass
class Sent:
    timing: Timing  # timing.started: when the update was due
    fed: float | None = None  # when feed_update was called
    held: bool = False  # the reply waited for the rest of a burst (typing shown first)


_sent: contextvars.ContextVar[Sent | None] = contextvars.ContextVar("burst_sent", default=None)


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _note_typing(make_request: Any, bot: Any, method: Any) -> Any:
    """Session middleware: a typing indicator before the reply means the reply
    was held as a fragment's (bot/bursts.py)."""
    sent = _sent.get()
    if sent is not None and sent.timing.replied is None and isinstance(method, SendChatAction):
        sent.held = True
    return await make_request(bot, method)


async def _open_loop(
    b: BenchBot, texts: list[str], rate: float, first_user: int
) -> tuple[list[Sent], list[asyncio.Task[None]], float]:
    """Feed update i at t0 + i/rate, each in its own task; never wait for one.
    Returns the updates, their tasks and when the last one was sent."""
    sent: list[Sent] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(s: Sent, user_id: int, text: str) -> None:
        token = _timing.set(s.timing)
        marker = _sent.set(s)
        try:
            s.fed = time.perf_counter()
            await b.dp.feed_update(b.bot, b.update(user_id, text, "ru"))
        finally:
            _sent.reset(marker)
            _timing.reset(token)

    t0 = time.perf_counter() + 0.05
    for i, text in enumerate(texts):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        s = Sent(Timing(due))
        sent.append(s)
        tasks.append(asyncio.create_task(one(s, first_user + i, text)))
    return sent, tasks, time.perf_counter()


async def _settle(tasks: list[asyncio.Task[None]], last_sent: float) -> tuple[int, int]:
    """Wait for the updates until STRAGGLERS s after the last was sent; those
    still running then are cancelled. Returns (raised, cancelled)."""
    if not tasks:
        return 0, 0
    left = max(0.0, last_sent + STRAGGLERS - time.perf_counter())
    done, pending = await asyncio.wait(tasks, timeout=left)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    raised = sum(1 for t in done if not t.cancelled() and t.exception() is not None)
    for t in done:
        if not t.cancelled() and t.exception() is not None:
            logging.getLogger(__name__).error("feed_update raised", exc_info=t.exception())
            break
    return raised, len(pending)


async def _rasa_idle(server: RasaServer) -> None:
    """One parse, waited for as long as it takes: Rasa parses one at a time,
    so once it is answered the parses abandoned by the previous rate (given
    up after slow_after, still queued at Rasa) are done."""
    client = RasaClient(server.url, server.token, timeout=300.0, retries=0)
    try:
        await client.parse("здравствуйте")
    finally:
        await client.close()


def _num(x: float) -> float | int:
    return int(x) if x.is_integer() else x


def _delta(after: NLUStats, before: NLUStats) -> dict[str, int]:
    return {
        "nlu_slow": after.slow - before.slow,
        "nlu_degraded": after.degraded - before.degraded,
        "rasa_failed": after.rasa_failed - before.rasa_failed,
        "cache_hits": after.cache_hits - before.cache_hits,
    }


async def _burst(
    setup: Setup, texts: list[str], rate: float, seconds: float, *, first_user: int
) -> dict[str, Any]:
    count = max(1, round(rate * seconds))
    warm, pool = texts[-WARMUP:], texts[:-WARMUP] or texts
    measured = [pool[i % len(pool)] for i in range(count)]
    errors_log = _Counter()
    handler_log = logging.getLogger("bot.handlers.errors")
    async with bench_bot(
        setup,
        update_ids=first_user,
        rasa_timeout=RASA_TIMEOUT,
        rasa_retries=RASA_RETRIES,
    ) as b:
        b.bot.session.middleware(_note_typing)
        # Warm up: first-use costs (connections, the first parses), not counted.
        _, tasks, last = await _open_loop(b, warm, rate, first_user - WARMUP)
        await _settle(tasks, last)
        before = replace(b.nlu.stats, latencies_ms=[])
        handler_log.addHandler(errors_log)
        try:
            sent, tasks, last = await _open_loop(b, measured, rate, first_user)
            raised, unfinished = await _settle(tasks, last)
        finally:
            handler_log.removeHandler(errors_log)
        stats = _delta(b.nlu.stats, before)
        slow_after = b.nlu.slow_after
    fed = [s.fed for s in sent if s.fed is not None]
    span = max(fed) - min(fed) if len(fed) > 1 else 0.0
    answered = [s for s in sent if s.timing.replied is not None]
    latency = [s.timing.replied - s.timing.started for s in sent if s.timing.replied is not None]
    lag = [s.fed - s.timing.started for s in sent if s.fed is not None]
    return {
        "rate": _num(rate),
        "seconds": _num(seconds),
        "sent": len(sent),
        "answered": len(answered),
        "send_rate_per_s": round((len(fed) - 1) / span, 1) if span > 0 else None,
        "latency_ms": {
            "p50": round(percentile(latency, 50) * 1000, 1),
            "p99": round(percentile(latency, 99) * 1000, 1),
            "max": round(max(latency) * 1000, 1),
        }
        if latency
        else {},
        "held": sum(1 for s in answered if s.held),
        **stats,
        "send_lag_ms": _ms(lag),
        "errors": raised,
        "handler_errors": errors_log.count,
        "unfinished": unfinished,
        "slow_after": slow_after,
    }


async def run() -> dict[str, Any]:
    rates = [float(r) for r in os.environ.get("BENCH_BURST_RATES", "15,30,50").split(",") if r]
    seconds = float(os.environ.get("BENCH_BURST_SECONDS", "20"))
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    out: dict[str, Any] = {"cores": os.cpu_count(), "slow_after": SLOW_AFTER}
    if not (MODEL_PATH.exists() and (RASA_VENV / "bin" / "rasa").exists()):
        out["rasa"] = "skipped (no model or no .venv-rasa: run `make train`)"
        return out
    light = await asyncio.to_thread(load_or_train, cache_dir=MODEL_DIR)
    texts = citizen_texts()
    out["texts"] = len(texts)
    out["distinct_texts"] = len(set(texts))
    results: list[dict[str, Any]] = []
    async with fake_telegram_process() as api_url:
        server = await start_server(f"http://127.0.0.1:{_free_port()}", token=secrets.token_hex(16))
        try:
            setup = Setup(light, KnowledgeBase.load(), Calendar.load(), api_url, rasa=server)
            for k, rate in enumerate(rates):
                await _rasa_idle(server)
                results.append(
                    await _burst(
                        setup, texts, rate, seconds, first_user=FIRST_USER + k * USERS_PER_RATE
                    )
                )
        finally:
            await server.stop()
    for r in results:
        out["slow_after"] = r.pop("slow_after")  # as the bots had it (the same for each)
    out["rates"] = results
    out["ok"] = all(
        r["answered"] == r["sent"] and not r["errors"] and not r["handler_errors"] for r in results
    )
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2) + "\n")
