"""A full end-to-end run of the real bot process against the fake Bot API
at LOG_LEVEL=DEBUG (an application with an IIN, a name and a phone; a
booking; a hand-off to the staff chat), then its log is scanned: no bot
token, IIN, full name or phone number may appear in it."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date
from pathlib import Path

import pytest

from tests.applications.support import make_iin
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import bot_env, new_id, start_bot

pytestmark = pytest.mark.slow
IIN = make_iin(date(1991, 7, 21))
APPLICANT = "Сейткалиева Динара Маратовна"
HEAD = "Жумабеков Арман Тлеуович"
PHONE = "+77017654321"
STAFF_CHAT = -1001234567890


async def test_a_full_run_logs_nothing_personal(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        token = f"{new_id()}:AAH{secrets.token_urlsafe(24)}"
        env = bot_env(
            fake,
            token,
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            LOG_LEVEL="DEBUG",
            STAFF_CHAT_ID=str(STAFF_CHAT),
            REDIS_URL=None,
        )
        proc = await start_bot(fake, env, tmp_path / "bot.log")
        users = iter([new_id(), new_id(), new_id()])
        user = next(users)
        sent = [0]
        try:

            async def pace() -> None:
                # The flood guard allows 5 at once, then one every 2 s per citizen.
                sent[0] += 1
                if sent[0] > 4:
                    await asyncio.sleep(2.05)

            async def say(text: str) -> str:
                await pace()
                mark = fake.mark()
                fake.push(fake.text(user, text, lang="ru"))
                await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=20)
                await fake.quiet(0.3)
                return "\n".join(fake.texts(user, since=mark))

            async def press(data: str) -> str:
                await pace()
                mark = fake.mark()
                fake.push(fake.press(user, data))
                await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=20)
                await fake.quiet(0.3)
                return "\n".join(fake.texts(user, since=mark))

            await say("/start")
            await press("lang:ru")
            # An application: consent, then every field.
            await say("Хочу подать заявление на дубликат диплома")
            await press("app:consent:yes")
            await say(HEAD)
            await say("Информационные системы")
            await say("Евразийский национальный университет")
            await say("2012")
            await say(APPLICANT)
            await say(IIN)
            await say("8 701 765 43 21")
            await press("app:skip")
            await press("app:pick:reason:lost")
            await press("app:pick:requested:diploma_with_appendix")
            summary = await press("app:pick:channel:psc")
            assert IIN in summary and PHONE in summary  # shown to the citizen, as it should be
            done = await press("app:confirm")
            assert "DUP-" in done
            # A booking by buttons (another citizen: the flood guard counts per citizen).
            user, sent[0] = next(users), 0
            await say("/start")
            await press("lang:ru")
            await press("ask:book_queue")
            offices = await press("bk:s:duplicate")
            assert offices
            # Personal data typed where it does not belong, and a hand-off.
            user, sent[0] = next(users), 0
            await say(f"меня зовут {APPLICANT}, ИИН {IIN}, телефон {PHONE}, позовите оператора")
            await pace()
            mark = fake.mark()
            fake.push(fake.text(user, "спасибо, жду", lang="ru"))
            # A person has the conversation now: relayed to staff, the bot stays silent.
            await fake.wait_for("sendMessage", chat_id=STAFF_CHAT, since=mark, timeout=20)
            await fake.quiet(0.5)
        finally:
            code = await proc.stop()
        log = proc.log()
        assert code == 0, log[-3000:]
        assert "DEBUG" in log  # the run really logged at debug level
        leaks = {
            "token": token.split(":")[1] in log,
            "IIN": IIN in log,
            "full name": APPLICANT in log or HEAD in log,
            "phone": PHONE in log or "7017654321" in log or "701 765 43 21" in log,
        }
        assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}
