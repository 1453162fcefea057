"""Helpers for the Telegram tests (fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.state import MemoryStateStore, StateStore
from bot.dispatcher import Shared
from bot.languages import RememberedLanguages
from bot.sender import RetryPolicy
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.users import SqlUserDirectory
from tests.fakes.telegram_api import Call, FakeTelegram

REPO = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
# An address that refuses connections at once and is not the loopback the
# bot would start its own Rasa on: the bot runs its degraded classifier.
NO_RASA_URL = "http://127.0.0.2:9"
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2)

_ids = itertools.count(random.randint(10**8, 9 * 10**8) * 10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_id() -> int:
    """A Telegram id no other test (or run sharing Redis) uses."""
    return next(_ids)


@dataclass
class Harness:
    fake: FakeTelegram
    bot: Bot
    dp: Dispatcher
    assistant: Assistant
    sessions: async_sessionmaker[AsyncSession]
    shared: Shared
    lang_of: dict[int, str] = field(default_factory=dict)

    async def feed(self, update: dict[str, Any]) -> Any:
        return await self.dp.feed_update(
            self.bot, Update.model_validate(update, context={"bot": self.bot})
        )

    async def say(self, user_id: int, text: str, lang: str = "ru") -> list[Call]:
        """The citizen writes; return the messages the bot sent in answer."""
        mark = self.fake.mark()
        await self.feed(self.fake.text(user_id, text, lang=lang))
        return self.fake.of("sendMessage", chat_id=user_id, since=mark)

    async def press(self, user_id: int, data: str, lang: str = "ru") -> list[Call]:
        mark = self.fake.mark()
        await self.feed(self.fake.press(user_id, data, lang=lang))
        return self.fake.of("sendMessage", chat_id=user_id, since=mark)


def make_assistant(
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    sessions: async_sessionmaker[AsyncSession],
    states: StateStore | None = None,
) -> Assistant:
    # Transport tests: the degraded classifier, no Rasa server needed.
    assistant = Assistant(
        NLU(client=None, light=light),
        kb,
        calendar,
        states=states or MemoryStateStore(),
        users=RememberedLanguages(SqlUserDirectory(sessions)),
    )
    assistant.ranker.warm()  # as bot/app.py does at startup: not on the first message
    return assistant


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    token: str
    webhook_url: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            for _ in range(int(timeout * 20)):
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.process.kill()
        return self.process.wait()


def bot_env(
    fake: FakeTelegram, token: str, database_url: str, **extra: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "REDIS_URL"))}
    env.update(
        BOT_TOKEN=token,
        TELEGRAM_API_URL=fake.url,
        DATABASE_URL=database_url,
        NLU_URL=NO_RASA_URL,
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.pop("NLU_TOKEN", None)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


async def start_bot(
    fake: FakeTelegram,
    env: dict[str, str],
    log_path: Path,
    *,
    ready: str = "getUpdates",
    timeout: float = 60,
) -> BotProcess:
    """Start `python -m bot`; return once it polls (or registered its webhook)."""
    mark = fake.mark()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bot"],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    proc = BotProcess(process, log_path, env["BOT_TOKEN"], env.get("WEBHOOK_URL"))
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bot exited with {process.returncode}:\n{proc.log()[-3000:]}")
        started = fake.of(ready, since=mark, ok_only=False)
        if ready == "setWebhook":
            started = [c for c in started if c.params.get("url") == proc.webhook_url]
        if started:
            return proc
        await asyncio.sleep(0.05)
    await proc.stop()
    raise TimeoutError(f"bot did not start:\n{proc.log()[-3000:]}")
