"""Soak benchmark (issue 7): the real bot process under a crowd, for a while.

    python -m bench soak          (or: python -m bench bench.soak, make bench)

What runs: the fake Bot API server (tests/fakes/telegram_api.py) in this
process; the real Rasa server (started here on a free port, with a token);
the REAL bot (`python -m bot`, long polling against the fake) on a throwaway
PostgreSQL database `soak_<random>` on 127.0.0.1:5432 (dropped at the end)
and Redis on 127.0.0.1:6379 (keys under the bot's own `tg:<bot id>:` prefix
and `conv:<citizen id>` for citizen ids no one else uses; deleted at the end).

The crowd: SOAK_CITIZENS (default 500) simulated citizens send SOAK_UPDATES
(default 10,000) updates in all. Each citizen plays a script like a person:
/start, the language button, then questions in Kazakh (Cyrillic, Latin,
without Kazakh letters, mixed) or Russian taken from data/nlu-test/; some
book a slot in the electronic queue by walking the buttons (most aim at the
same few two-window offices and the first free times, so they collide),
some fill in an application (consent, the fields with valid IINs, the
summary, confirm), some check their status. A citizen sends the next update
only after the reply to the previous one came and it "read" it for
SOAK_THINK seconds ("min,max", default 8-12 s; "2,3" is the fastest pace
the bot's flood guard lets through, one message every 2 s after a burst of
5: with 500 citizens that is an overload test, ~200 updates/s offered). Citizens
arrive over the first SOAK_RAMP seconds (default 20).

Figures and what they mean:
- updates_per_s: updates answered / the crowd's wall time.
- latency (update-to-reply): from the moment the update is queued on the
  fake server (getUpdates) to the first sendMessage/sendDocument to that
  chat answered by it. Keyboard retirement (editMessageText) and
  answerCallbackQuery are not replies.
- errors: updates answered with the generic apology (`tg-error`), updates
  not answered within SOAK_TIMEOUT s (default 60), flood notices
  (`tg-flood`: an update dropped), sendMessage/sendDocument calls the fake
  refused, and ERROR/CRITICAL records in the bot's log.
- duplicate replies: the calls to a chat between one update of the citizen
  and its next one are that update's reply burst. A duplicate is a burst in
  which the same message (method, text, keyboard) is sent twice, or a
  callback query answered more than once; also an update id the bot logs as
  handled twice. No update is redelivered, so every one of these is a bug.
- overbooked windows: from the booking table, for each (office, start) the
  active bookings beyond the office's windows (as bench/booking.py counts);
  overbooked_slots: the slots that have any.
- memory: RSS of the bot process and of the Rasa server (with its children)
  sampled every second (/proc); peak, and the RSS when 20 % of the updates
  had been answered (after warm-up) against the RSS at the end: "flat" when
  the growth is under 10 %.

Also written to build/soak.json (and the bot's log to build/soak-bot.log).
`make bench` fails when errors, duplicates or overbooked windows are not 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from actions.booking import Offices
from actions.i18n import LANGS, Translator
from actions.intake.form import KEYS
from actions.validators import iin_check_digit
from bot.bursts import BURST_WAIT
from nlu.rasa import MODEL_PATH, RASA_VENV, RasaServer, start_server
from storage.applications import Application
from storage.booking import ACTIVE, Booking
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.telegram.tg_support import BotProcess, bot_env, free_port, start_bot

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
REPLY_METHODS = frozenset({"sendMessage", "sendDocument"})
# Questions a citizen types; the intents that start or steer a flow
# (booking, application, operator, language, yes/no) are played by buttons.
QUESTION_INTENTS = re.compile(
    r"^(ask_\w+|greet|thank|goodbye|help|complaint|out_of_scope|check_status|my_bookings)$"
)
QUESTION_FILES = {
    "kk": ["kk-cyrillic", "kk-latin", "kk-letterless", "kk-mixed"],
    "ru": ["ru-cyrillic", "ru-mixed"],
}
# Two-window offices everybody wants (as bench/booking.py): many collisions.
POPULAR = [("ast", "ast-psc2"), ("ast", "ast-uni1"), ("alm", "alm-uni1")]
# Full names typed into the form (one is drawn for every attempt).
NAMES = [
    "Сәрсенбаев Ерлан Қайратұлы",
    "Әбілқасымова Айгерім Серікқызы",
    "Нұрланов Данияр",
    "Иванов Пётр Сергеевич",
    "Петрова Анна Ивановна",
    "Ким Виктория Олеговна",
    "Omarov Asqar",
]
# Seconds a citizen reads a reply before the next message ("min,max").
# 8-12 s: 500 citizens offer ~50 updates/s. SOAK_THINK=2,3 is the fastest
# pace the flood guard lets through (~200/s offered): an overload test.
THINK = "8,12"
WARM_FRACTION = 0.2
FLAT_GROWTH = 0.10
_LOG_ERROR = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ", re.M)
_LOG_WARNING = re.compile(r"^\S+ \S+ WARNING (\S+): (.{0,80})", re.M)
# Rasa's entity markup in training examples: [text]{"entity": ...} or [text](entity).
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\{[^}]*\}|\([^)]*\))")
_HANDLED = re.compile(r"Update id=(\d+) is (handled|not handled)")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- memory ------------------------------------------------------------------------
def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    return found


def tree_rss_mb(pid: int, *, children: bool = True) -> float:
    """RSS of a process and (unless told not to) its descendants, in MB."""
    if not children:
        return round(_rss_kb(pid) / 1024, 1)
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_kb(p)
        todo += _children(p)
    return round(total / 1024, 1)


@dataclass
class Sample:
    t: float
    answered: int
    rss: dict[str, float]


# -- the fake Telegram, routing every call to its citizen ------------------------------
class SoakTelegram(FakeTelegram):
    """FakeTelegram whose calls go to per-chat inboxes as they are answered
    (`wait_for` scans the whole log on every call: too slow for 500 chats)."""

    def __init__(self) -> None:
        super().__init__()
        self.citizens: dict[int, Citizen] = {}
        self.callbacks: dict[str, int] = {}  # callback query id -> chat
        self.refused: list[Call] = []
        self.delivered: dict[int, float] = {}  # update id -> first handed out by getUpdates
        self.polls = 0
        self.polls_nothing_new = 0  # getUpdates answers holding only updates handed out before

    async def _m_getUpdates(self, token: str, params: dict[str, Any]) -> Any:
        out = await super()._m_getUpdates(token, params)
        now = time.monotonic()
        new = 0
        for update in out:
            if update["update_id"] not in self.delivered:
                self.delivered[update["update_id"]] = now
                new += 1
        self.polls += 1
        if out and not new:
            self.polls_nothing_new += 1
        return out

    async def _record(self, call: Call, status: int, body: dict[str, Any]) -> web.Response:
        response = await super()._record(call, status, body)
        chat = call.chat_id
        if call.method == "answerCallbackQuery":
            chat = self.callbacks.get(str(call.params.get("callback_query_id")))
        citizen = self.citizens.get(chat) if chat is not None else None
        if citizen is not None:
            citizen.inbox.append(call)
            if call.method in REPLY_METHODS:
                if call.ok and citizen.waiting is not None and citizen.waiting.first is None:
                    citizen.waiting.first = call.at
                    citizen.replied.set()
                if not call.ok:
                    self.refused.append(call)
        return response


# -- one citizen ----------------------------------------------------------------------
@dataclass
class Sent:
    kind: str  # text | command | press
    what: str
    pushed: float
    index: int  # position in the citizen's inbox when pushed
    callback_id: str | None = None
    update_id: int = 0
    first: float | None = None  # the first reply answered


@dataclass
class Tally:
    booked: int = 0
    races_lost: int = 0
    booking_started: int = 0
    applied: int = 0
    application_started: int = 0
    status_checks: int = 0
    questions: int = 0
    form_answers_taken_as_requests: int = 0


@dataclass
class Citizen:
    uid: int
    lang: str
    role: str
    quota: int
    rng: random.Random
    inbox: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: Sent | None = None


class Crowd:
    def __init__(
        self,
        fake: SoakTelegram,
        questions: dict[str, list[str]],
        translator: Translator,
        *,
        think: tuple[float, float],
        timeout: float,
    ) -> None:
        self.fake = fake
        self.questions = questions
        self.t = translator
        self.think = think
        self.timeout = timeout
        self.tally = Tally()
        self.answered = 0
        self.hijacked: dict[str, int] = {}  # form field -> answers taken for requests
        self.offices = Offices.load()
        self.ask_texts = {
            lang: {key: translator(lang, f"intake-ask-{key}") for key in KEYS} for lang in LANGS
        }

    # -- sending ------------------------------------------------------------------
    async def _send(self, c: Citizen, update: dict[str, Any], kind: str, what: str) -> list[Call]:
        """Push one update, wait for its reply and read it; the reply burst."""
        c.quota -= 1
        record = Sent(kind, what, time.monotonic(), len(c.inbox), update_id=update["update_id"])
        callback = update.get("callback_query")
        if callback is not None:
            record.callback_id = str(callback["id"])
            self.fake.callbacks[record.callback_id] = c.uid
        c.sent.append(record)
        c.waiting = record
        c.replied.clear()
        record.pushed = time.monotonic()
        self.fake.push(update)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.replied.wait(), self.timeout)
        if record.first is not None:
            self.answered += 1
        await asyncio.sleep(c.rng.uniform(*self.think))  # reading the answer
        return [x for x in c.inbox[record.index :] if x.method in REPLY_METHODS and x.ok]

    async def say(self, c: Citizen, words: str) -> list[Call]:
        update = self.fake.text(c.uid, words, lang=c.lang)
        return await self._send(c, update, "command" if words.startswith("/") else "text", words)

    async def press(self, c: Citizen, message: Call, payload: str) -> list[Call]:
        update = self.fake.press(c.uid, payload, message, lang=c.lang)
        return await self._send(c, update, "press", payload)

    @staticmethod
    def keyboard(replies: list[Call], prefix: str) -> tuple[Call | None, list[str]]:
        """The last reply with buttons starting with `prefix`, and those buttons."""
        for call in reversed(replies):
            found = [p for p in call.payloads if p.startswith(prefix)]
            if found:
                return call, found
        return None, []

    # -- scripts --------------------------------------------------------------------
    async def question(self, c: Citizen) -> None:
        self.tally.questions += 1
        await self.say(c, c.rng.choice(self.questions[c.lang]))

    async def status(self, c: Citizen) -> None:
        self.tally.status_checks += 1
        if c.rng.random() < 0.5:
            await self.say(c, "/status")
        else:
            await self.say(
                c, "Менің өтінішім қандай күйде?" if c.lang == "kk" else "Какой статус моей заявки?"
            )

    async def book(self, c: Citizen) -> None:
        self.tally.booking_started += 1
        city, office = (
            POPULAR[c.rng.randrange(len(POPULAR))]
            if c.rng.random() < 0.8
            else (
                "shy",
                "shy-psc1",
            )
        )
        replies = await self.say(c, "/book")
        confirmed = False
        for _ in range(14):
            message, payloads = self.keyboard(replies, "bk:")
            if message is None:
                return
            if confirmed:
                if any(p.startswith("bk:t:") for p in payloads):
                    self.tally.races_lost += 1  # "just taken": choose another time
                elif "bk:my" in payloads:
                    self.tally.booked += 1
                    return
            confirmed = False
            if c.quota <= 0:
                return
            choice: str | None = None
            for prefix, pick in (
                ("bk:ok:", lambda ps: ps[0]),
                ("bk:t:", lambda ps: ps[c.rng.randrange(min(2, len(ps)))]),
                ("bk:d:", lambda ps: ps[0]),
                ("bk:o:", lambda ps: f"bk:o:{office}" if f"bk:o:{office}" in ps else ps[0]),
                ("bk:c:", lambda ps: f"bk:c:{city}" if f"bk:c:{city}" in ps else ps[0]),
                ("bk:s:", lambda ps: "bk:s:duplicate" if "bk:s:duplicate" in ps else ps[0]),
            ):
                matching = [p for p in payloads if p.startswith(prefix)]
                if matching:
                    choice = pick(matching)
                    break
            if choice is None:
                return  # a ticket, "already booked", no free days: over
            confirmed = choice.startswith("bk:ok:")
            replies = await self.press(c, message, choice)

    def _field_value(self, c: Citizen, key: str) -> str:
        rng = c.rng
        kk = c.lang == "kk"
        if key in ("university_head_name", "applicant_name"):
            return rng.choice(NAMES)
        if key == "specialty":
            return "Информатика" if kk else "Педагогика и психология"
        if key == "university":
            return (
                "Л.Н. Гумилев атындағы Еуразия ұлттық университеті"
                if kk
                else "Карагандинский университет"
            )
        if key == "graduation_year":
            return str(rng.randint(1995, 2022))
        if key == "iin":
            return valid_iin(rng)
        if key == "phone":
            return "+7 70" + "".join(str(rng.randint(0, 9)) for _ in range(8))
        return "Астана, Үлгі көшесі, 1" if kk else "Астана, ул. Образцовая, 1"

    async def apply(self, c: Citizen) -> None:
        self.tally.application_started += 1
        replies = await self.say(c, "/status")
        for _ in range(20):
            if c.quota <= 0:
                return
            message, payloads = self.keyboard(replies, "app:")
            if message is None:
                return
            if "app:confirm" in payloads:
                replies = await self.press(c, message, "app:confirm")
                if (
                    any(x.method == "sendDocument" for x in replies)
                    or self.keyboard(replies, "app:status")[0]
                ):
                    self.tally.applied += 1
                return
            for wanted in ("app:consent:yes", "app:start", "app:resume"):
                if wanted in payloads:
                    replies = await self.press(c, message, wanted)
                    break
            else:
                picks = [p for p in payloads if p.startswith("app:pick:")]
                if picks:
                    replies = await self.press(c, message, c.rng.choice(picks))
                    continue
                asked = message.text
                key = next((k for k, q in self.ask_texts[c.lang].items() if q in asked), None)
                if key is None:
                    return
                if key == "university_new" and "app:skip" in payloads and c.rng.random() < 0.7:
                    replies = await self.press(c, message, "app:skip")
                    continue
                replies = await self.say(c, self._field_value(c, key))
                if self.keyboard(replies, "app:resume")[0] is not None:
                    # The answer was taken for a request (it left the form): noted.
                    self.tally.form_answers_taken_as_requests += 1
                    self.hijacked[key] = self.hijacked.get(key, 0) + 1

    async def play(self, c: Citizen, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        replies = await self.say(c, "/start")
        message, _ = self.keyboard(replies, "lang:")
        if message is not None and c.quota > 0:
            await self.press(c, message, f"lang:{c.lang}")
        did_role = False
        while c.quota > 0:
            # An applicant needs ~17 updates: it starts at once; others after a question or two.
            first = c.role in ("asker", "applicant")
            if not did_role and (first or c.rng.random() < 0.4):
                did_role = True
                if c.role == "booker":
                    await self.book(c)
                    continue
                if c.role == "applicant":
                    await self.apply(c)
                    if c.quota > 0:
                        await self.status(c)
                    continue
                if c.role == "status":
                    await self.status(c)
                    continue
            await self.question(c)


def valid_iin(rng: random.Random) -> str:
    while True:
        born = date(rng.randint(1970, 2003), rng.randint(1, 12), rng.randint(1, 28))
        century = rng.choice((3, 4)) if born.year < 2000 else rng.choice((5, 6))
        first11 = f"{born:%y%m%d}{century}{rng.randint(0, 9999):04d}"
        check = iin_check_digit(first11)
        if check is not None:
            return first11 + str(check)


def load_questions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lang, files in QUESTION_FILES.items():
        texts: list[str] = []
        for name in files:
            data = yaml.safe_load((REPO / "data" / "nlu-test" / f"{name}.yml").read_text())
            for block in data.get("nlu") or []:
                if QUESTION_INTENTS.match(str(block.get("intent", ""))):
                    texts += [
                        _ANNOTATION.sub(r"\1", line.strip()[2:].strip())
                        for line in str(block.get("examples", "")).splitlines()
                        if line.strip().startswith("- ")
                    ]
        out[lang] = texts
    return out


# -- infrastructure ---------------------------------------------------------------------
async def _pg_reachable() -> str | None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(5), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL on 127.0.0.1:5432 not reachable ({type(exc).__name__}: {exc})"
    finally:
        await engine.dispose()


async def _redis_client() -> Any:
    from storage.redis import redis_client

    return redis_client(os.environ.get("SOAK_REDIS_URL", REDIS_URL))


async def _redis_reachable() -> str | None:
    redis = await _redis_client()
    try:
        async with asyncio.timeout(5):
            await redis.ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis on 127.0.0.1:6379 not reachable ({type(exc).__name__}: {exc})"
    finally:
        await redis.aclose()


@contextlib.asynccontextmanager
async def throwaway_database() -> Any:
    name = f"soak_{secrets.token_hex(4)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _forget_redis_keys(bot_id: int, citizens: list[Citizen]) -> int:
    redis = await _redis_client()
    removed = 0
    try:
        keys = [k async for k in redis.scan_iter(match=f"tg:{bot_id}:*", count=1000)]
        keys += [f"conv:{c.uid}" for c in citizens]
        for i in range(0, len(keys), 500):
            removed += int(await redis.delete(*keys[i : i + 500]))
    finally:
        await redis.aclose()
    return removed


async def _redis_rss_mb() -> float | None:
    redis = await _redis_client()
    try:
        info = await redis.info("memory")
        return round(int(info.get("used_memory_rss", 0)) / 2**20, 1)
    except Exception:  # noqa: BLE001
        return None
    finally:
        await redis.aclose()


async def _booking_counts(database_url: str) -> dict[str, Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Booking.office_id, Booking.starts_at, func.count())
                    .where(Booking.status == ACTIVE)
                    .group_by(Booking.office_id, Booking.starts_at)
                )
            ).all()
            apps = (await conn.execute(select(func.count()).select_from(Application))).scalar_one()
    finally:
        await engine.dispose()
    windows = {o.id: o.windows for o in Offices.load().all()}
    over = [n - windows[o] for o, _, n in rows if n > windows[o]]
    return {
        "bookings_in_db": sum(n for _, _, n in rows),
        "slots_booked": len(rows),
        "overbooked_slots": len(over),
        "overbooked_windows": sum(over),
        "applications_in_db": int(apps),
    }


def _not_held(latencies: list[float], held: list[float]) -> dict[str, float | None]:
    rest = list(latencies)
    for x in held:
        rest.remove(x)
    if not rest:
        return {"p50": None, "p99": None}
    return {
        "p50": round(percentile(rest, 50) * 1000, 1),
        "p99": round(percentile(rest, 99) * 1000, 1),
    }


# -- analysis ------------------------------------------------------------------------------
def _analyse(
    citizens: list[Citizen], translator: Translator, delivered: dict[int, float]
) -> dict[str, Any]:
    apology = {translator(lang, "tg-error") for lang in LANGS}
    flood = {translator(lang, "tg-flood") for lang in LANGS}
    latencies: list[float] = []
    # Replies held on purpose: a greeting's (or "у меня вопрос"'s) waits up to
    # BURST_WAIT for the rest of a burst, typing shown meanwhile (bot/bursts.py).
    held: list[float] = []
    fetch_waits: list[float] = []  # queued -> first handed to the bot by getUpdates
    handling: list[float] = []  # handed to the bot -> first reply
    unanswered: list[str] = []
    apologies: list[str] = []
    flooded = 0
    duplicates: list[str] = []
    for c in citizens:
        for i, sent in enumerate(c.sent):
            end = c.sent[i + 1].index if i + 1 < len(c.sent) else len(c.inbox)
            burst = c.inbox[sent.index : end]
            if sent.first is None:
                unanswered.append(f"{c.uid}: {sent.what[:40]}")
            else:
                latencies.append(sent.first - sent.pushed)
                typing_first = bool(burst) and burst[0].method == "sendChatAction"
                if typing_first and sent.first - sent.pushed >= 0.9 * BURST_WAIT:
                    held.append(sent.first - sent.pushed)
                fetched = delivered.get(sent.update_id)
                if fetched is not None:
                    fetch_waits.append(fetched - sent.pushed)
                    handling.append(sent.first - fetched)
            seen: Counter[tuple[str, str, str]] = Counter()
            for call in burst:
                if call.method in REPLY_METHODS and call.ok:
                    if call.text in apology:
                        apologies.append(f"{c.uid}: {sent.what[:40]}")
                    if call.text in flood:
                        flooded += 1
                    caption = str(call.params.get("caption", ""))
                    seen[
                        (call.method, call.text + caption, repr(call.params.get("reply_markup")))
                    ] += 1
            answers = [
                x
                for x in burst
                if x.method == "answerCallbackQuery"
                and str(x.params.get("callback_query_id")) == sent.callback_id
            ]
            repeated = [k for k, n in seen.items() if n > 1]
            if repeated or len(answers) > 1:
                what = repeated[0][1][:60] if repeated else "answerCallbackQuery"
                duplicates.append(f"{c.uid} after {sent.what[:30]!r}: {what!r}")
    return {
        "latencies": latencies,
        "held": held,
        "fetch_waits": fetch_waits,
        "handling": handling,
        "unanswered": unanswered,
        "apologies": apologies,
        "flooded": flooded,
        "duplicates": duplicates,
    }


def _transcripts(citizens: list[Citizen], path: Path, limit: int = 40) -> None:
    """What the first citizens of each role said and got, for a look by eye."""
    shown: Counter[str] = Counter()
    lines: list[str] = []
    for c in citizens:
        if shown[c.role] >= limit // 4:
            continue
        shown[c.role] += 1
        lines.append(f"=== citizen {c.uid} ({c.role}, {c.lang})")
        for i, sent in enumerate(c.sent):
            end = c.sent[i + 1].index if i + 1 < len(c.sent) else len(c.inbox)
            took = f"{(sent.first - sent.pushed) * 1000:.0f} ms" if sent.first else "NO REPLY"
            lines.append(f"> [{sent.kind}] {sent.what}   ({took})")
            for call in c.inbox[sent.index : end]:
                if call.method in REPLY_METHODS:
                    body = call.text or str(call.params.get("caption", ""))
                    lines.append(f"< {call.method}: {body[:160]!r} {call.payloads}")
        lines.append("")
    path.write_text("\n".join(lines))


def _log_findings(log: str) -> dict[str, Any]:
    errors = [m.group(0) for m in _LOG_ERROR.finditer(log)]
    lines = log.splitlines()
    error_lines = [ln[:300] for ln in lines if _LOG_ERROR.match(ln + " ")][:10]
    handled = Counter(m.group(1) for m in _HANDLED.finditer(log))
    not_handled = sum(1 for m in _HANDLED.finditer(log) if m.group(2) == "not handled")
    warnings = Counter(f"{m.group(1)}: {m.group(2)}" for m in _LOG_WARNING.finditer(log))
    degraded = sum(n for w, n in warnings.items() if "NLU degraded" in w)
    return {
        "log_errors": len(errors),
        "log_error_lines": error_lines,
        "updates_logged": len(handled),
        "updates_handled_twice": sum(1 for n in handled.values() if n > 1),
        "updates_not_handled": not_handled,
        "nlu_degraded_events": degraded,
        "top_warnings": [f"{n} x {w}" for w, n in warnings.most_common(5)],
    }


def _memory(samples: list[Sample], total: int, name: str) -> dict[str, Any]:
    values = [s.rss[name] for s in samples if s.rss.get(name)]
    if not values:
        return {}
    warm = next(
        (s.rss[name] for s in samples if s.answered >= WARM_FRACTION * total and s.rss.get(name)),
        values[0],
    )
    end = values[-1]
    growth = (end - warm) / warm if warm else 0.0
    # RSS each time another tenth of the updates had been answered.
    timeline: list[float] = []
    for s in samples:
        if s.rss.get(name) and s.answered >= len(timeline) * total / 10:
            timeline.append(s.rss[name])
    return {
        "by_tenth_answered_mb": timeline,
        "peak_mb": max(values),
        "after_warmup_mb": warm,
        "end_mb": end,
        "growth_pct": round(growth * 100, 1),
        "flat": growth < FLAT_GROWTH,
    }


# -- the run ------------------------------------------------------------------------------
async def run() -> dict[str, Any]:
    n_citizens = _env_int("SOAK_CITIZENS", 500)
    n_updates = _env_int("SOAK_UPDATES", 10_000)
    think = tuple(float(x) for x in os.environ.get("SOAK_THINK", THINK).split(","))
    ramp = float(os.environ.get("SOAK_RAMP", "20"))
    timeout = float(os.environ.get("SOAK_TIMEOUT", "60"))
    for problem in (await _pg_reachable(), await _redis_reachable()):
        if problem:
            sys.stderr.write(f"soak: skipped: {problem}\n")
            return {"skipped": problem}
    if not MODEL_PATH.exists() or not (RASA_VENV / "bin" / "rasa").exists():
        problem = "no NLU model or no .venv-rasa: run `make train`"
        sys.stderr.write(f"soak: skipped: {problem}\n")
        return {"skipped": problem}
    if n_updates < 2 * n_citizens:
        raise ValueError("SOAK_UPDATES must be at least twice SOAK_CITIZENS")

    translator = Translator()
    questions = load_questions()
    rng = random.Random(_env_int("SOAK_SEED", 1414))
    BUILD.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    bot_id = rng.randint(10**9, 9 * 10**9)
    first_uid = rng.randint(10**11, 9 * 10**11)
    # Out of every 20 citizens: 9 ask questions only, 5 book, 3 apply, 3 check a status.
    roles = ["asker"] * 9 + ["booker"] * 5 + ["applicant"] * 3 + ["status"] * 3
    rng.shuffle(roles)
    quotas = [
        n_updates // n_citizens + (1 if i < n_updates % n_citizens else 0)
        for i in range(n_citizens)
    ]
    citizens = [
        Citizen(
            uid=first_uid + i,
            lang="kk" if i % 2 == 0 else "ru",
            role=roles[i % len(roles)],
            quota=quotas[i],
            rng=random.Random(rng.getrandbits(32)),
        )
        for i in range(n_citizens)
    ]
    redis_before = await _redis_rss_mb()
    samples: list[Sample] = []
    result: dict[str, Any] = {}
    rasa: RasaServer | None = None
    proc: BotProcess | None = None
    started = time.monotonic()
    try:
        fake = SoakTelegram()
        async with throwaway_database() as database_url, fake:
            fake.citizens = {c.uid: c for c in citizens}
            rasa = await start_server(
                f"http://127.0.0.1:{free_port()}",
                token=secrets.token_hex(16),
                log_path=tmp / "rasa.log",
            )
            env = bot_env(
                fake,
                f"{bot_id}:AAH{secrets.token_urlsafe(24)[:30]}",
                database_url,
                NLU_URL=rasa.url,
                NLU_TOKEN=rasa.token,
                REDIS_URL=os.environ.get("SOAK_REDIS_URL", REDIS_URL),
                CONSOLE_PORT=str(free_port()),
                STAFF_CHAT_ID=None,
                LOG_LEVEL="INFO",
            )
            proc = await start_bot(fake, env, tmp / "bot.log")
            crowd = Crowd(fake, questions, translator, think=(think[0], think[-1]), timeout=timeout)
            pids = {"bot": proc.process.pid, "rasa": rasa.process.pid, "bench": os.getpid()}

            async def sample() -> None:
                while True:
                    # This process is the parent of both: its own RSS only.
                    rss = {k: tree_rss_mb(p, children=k != "bench") for k, p in pids.items()}
                    samples.append(Sample(time.monotonic(), crowd.answered, rss))
                    await asyncio.sleep(1.0)

            sampler = asyncio.create_task(sample())
            t0 = time.monotonic()
            cpu0 = {k: _cpu_seconds(p, children=k != "bench") for k, p in pids.items()}
            progress = asyncio.create_task(_progress(crowd, n_updates, t0))
            await asyncio.gather(
                *(crowd.play(c, ramp * i / n_citizens) for i, c in enumerate(citizens))
            )
            elapsed = time.monotonic() - t0
            cpu = {
                k: round(_cpu_seconds(p, children=k != "bench") - cpu0[k], 1)
                for k, p in pids.items()
            }
            progress.cancel()
            await asyncio.sleep(3.0)  # anything late lands in the last bursts
            sampler.cancel()
            redis_after = await _redis_rss_mb()
            exit_code = await proc.stop()
            log = proc.log()
            shutil.copy(tmp / "bot.log", BUILD / "soak-bot.log")
            db = await _booking_counts(database_url)
            await rasa.stop()
            found = _analyse(citizens, translator, fake.delivered)
            _transcripts(citizens, BUILD / "soak-transcripts.txt")
            logged = _log_findings(log)
            latencies = found["latencies"]
            sent = sum(len(c.sent) for c in citizens)
            failed_updates = len(found["unanswered"]) + len(found["apologies"]) + found["flooded"]
            errors = failed_updates + len(fake.refused) + logged["log_errors"]
            duplicates = len(found["duplicates"]) + logged["updates_handled_twice"]
            tally = crowd.tally
            result = {
                "citizens": n_citizens,
                "updates": sent,
                "answered": len(latencies),
                "seconds": round(elapsed, 1),
                "updates_per_s": round(len(latencies) / elapsed, 1),
                "latency_ms": {
                    "p50": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
                    "p90": round(percentile(latencies, 90) * 1000, 1) if latencies else None,
                    "p99": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
                    "max": round(max(latencies) * 1000, 1) if latencies else None,
                    "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
                },
                # Without the replies held on purpose for a burst (above).
                "held_for_burst": len(found["held"]),
                "latency_ms_not_held": _not_held(latencies, found["held"]),
                # The latency in two parts: waiting to be handed to the bot by
                # getUpdates, and from there to the first reply.
                "waiting_for_getupdates_ms": _ms(found["fetch_waits"]),
                "getupdates_to_reply_ms": _ms(found["handling"]),
                "polls": fake.polls,
                "polls_with_nothing_new": fake.polls_nothing_new,
                "think_s": list(think),
                "errors": errors,
                "errors_detail": {
                    "unanswered": len(found["unanswered"]),
                    "apologies_tg_error": len(found["apologies"]),
                    "flood_notices": found["flooded"],
                    "replies_refused_by_api": len(fake.refused),
                    "log_errors": logged["log_errors"],
                    "examples": (found["unanswered"] + found["apologies"])[:5]
                    + logged["log_error_lines"][:5]
                    + [f"{c.method} {c.status}: {c.text[:60]}" for c in fake.refused[:5]],
                },
                "duplicates": duplicates,
                "duplicates_detail": {
                    "repeated_in_burst": len(found["duplicates"]),
                    "update_ids_handled_twice": logged["updates_handled_twice"],
                    "examples": found["duplicates"][:5],
                },
                "overbooked_windows": db["overbooked_windows"],
                "overbooked_slots": db["overbooked_slots"],
                "flows": {
                    "questions": tally.questions,
                    "status_checks": tally.status_checks,
                    "bookings_started": tally.booking_started,
                    "booked": tally.booked,
                    "booking_races_lost": tally.races_lost,
                    "applications_started": tally.application_started,
                    "applied": tally.applied,
                    "form_answers_taken_as_requests": tally.form_answers_taken_as_requests,
                    "form_fields_taken_as_requests": crowd.hijacked,
                    **{k: v for k, v in db.items() if not k.startswith("overbooked")},
                },
                "nlu_degraded_events": logged["nlu_degraded_events"],
                "updates_not_handled_by_any_handler": logged["updates_not_handled"],
                "top_warnings": logged["top_warnings"],
                "cpu_seconds": cpu,
                "memory": {
                    "bot": _memory(samples, n_updates, "bot"),
                    "rasa": _memory(samples, n_updates, "rasa"),
                    "bench_and_fake_telegram": _memory(samples, n_updates, "bench"),
                    "redis_rss_mb": {"before": redis_before, "after": redis_after},
                },
                "bot_exit_code": exit_code,
                "wall_seconds_total": round(time.monotonic() - started, 1),
            }
    finally:
        if proc is not None:
            await proc.stop()
        if rasa is not None:
            await rasa.stop()
        with contextlib.suppress(Exception):
            await _forget_redis_keys(bot_id, citizens)
        shutil.rmtree(tmp, ignore_errors=True)
    mem = result["memory"]
    result["memory_flat"] = bool(mem["bot"].get("flat")) and bool(mem["rasa"].get("flat"))
    result["ok"] = (
        result["errors"] == 0 and result["duplicates"] == 0 and result["overbooked_windows"] == 0
    )
    (BUILD / "soak.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    _print(result)
    return result


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


def _cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU time of a process and (unless told not to) its
    descendants, in seconds."""
    total, todo, seen = 0.0, [pid], set()
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        if children:
            todo += _children(p)
    return total


async def _progress(crowd: Crowd, total: int, t0: float) -> None:
    while True:
        await asyncio.sleep(15)
        done = crowd.answered
        sys.stderr.write(f"soak: {done}/{total} answered after {time.monotonic() - t0:.0f} s\n")


def _print(r: dict[str, Any]) -> None:
    lat = r["latency_ms"]
    mem = r["memory"]
    rows = [
        ("citizens / updates sent", f"{r['citizens']} / {r['updates']}"),
        ("answered", str(r["answered"])),
        ("time", f"{r['seconds']} s"),
        ("updates/s", str(r["updates_per_s"])),
        ("latency p50 / p99", f"{lat['p50']} ms / {lat['p99']} ms (max {lat['max']} ms)"),
        (
            "  not held for a burst",
            f"{r['latency_ms_not_held']} ({r['held_for_burst']} greetings held on purpose)",
        ),
        (
            "  of which",
            f"waiting for getUpdates {r['waiting_for_getupdates_ms']},"
            f" getUpdates -> reply {r['getupdates_to_reply_ms']}",
        ),
        ("errors", f"{r['errors']}  {r['errors_detail']}"),
        ("duplicate replies", f"{r['duplicates']}"),
        ("overbooked windows", f"{r['overbooked_windows']} (slots {r['overbooked_slots']})"),
        ("flows", str(r["flows"])),
        ("NLU degraded events", str(r["nlu_degraded_events"])),
        ("CPU seconds", str(r["cpu_seconds"])),
    ]
    for name in ("bot", "rasa", "bench_and_fake_telegram"):
        m = mem[name]
        if m:
            rows.append(
                (
                    f"RSS {name}",
                    f"peak {m['peak_mb']} MB; after warm-up {m['after_warmup_mb']} MB -> end"
                    f" {m['end_mb']} MB ({m['growth_pct']:+} %,"
                    f" {'flat' if m['flat'] else 'GROWING'})",
                )
            )
    rows.append(("verdict", "OK" if r["ok"] else "FAILED"))
    width = max(len(k) for k, _ in rows)
    sys.stderr.write("soak:\n" + "".join(f"  {k:<{width}}  {v}\n" for k, v in rows))


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2) + "\n")
