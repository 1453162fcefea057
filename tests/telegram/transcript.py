"""A new citizen's first conversation, as a transcript: the real bot
process (`python -m bot`) against the fake Bot API server, driven the way
Telegram would drive it. For the issue's closing note and for a look by eye.

    python -m tests.telegram.transcript            (Rasa: the bot starts its own)
    python -m tests.telegram.transcript --no-rasa  (the degraded classifier)

`test_a_new_citizens_first_conversation` (test_telegram_e2e.py) plays the
same script and checks that every step is answered.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.telegram_api import Call, FakeTelegram
from tests.telegram.tg_support import NO_RASA_URL, bot_env, free_port, new_id, start_bot


@dataclass
class Step:
    """What the citizen does: writes `text`, presses `button` on the bot's
    last message that has it, or sends something that is not text."""

    say: str | None = None
    press: str | None = None
    other: str | None = None  # "sticker", "photo", "voice", "location"


# A Russian-speaking citizen whose app is in Russian, who has never used the bot.
SCRIPT = [
    Step(say="/start"),
    Step(press="lang:ru"),
    Step(say="Какие документы нужны для дубликата диплома?"),
    Step(press="ch:psc"),
    Step(say="а сколько дней делают?"),
    Step(other="sticker"),
    Step(say="Грантқа өтінішті қашан береміз?"),
    Step(press="menu"),
    Step(press="svc:grant"),
    Step(say="/help"),
    Step(say="/operator"),
]


@dataclass
class Exchange:
    step: Step
    calls: list[Call]


def _what(step: Step) -> str:
    if step.say is not None:
        return step.say
    if step.press is not None:
        return f"[presses {step.press}]"
    return f"[sends a {step.other}]"


async def play(
    fake: FakeTelegram,
    user: int,
    script: list[Step],
    *,
    lang: str = "ru",
    timeout: float = 30,
    pause: float = 2.0,
) -> list[Exchange]:
    """Play `script` as citizen `user`; after each step wait until the bot
    has gone quiet and keep what it did in that chat. A person reads the
    answer before the next step: `pause` seconds (the flood guard lets a
    burst of 5 through, then one message every 2 s)."""
    exchanges: list[Exchange] = []
    for i, step in enumerate(script):
        if i:
            await asyncio.sleep(pause)
        mark = fake.mark()
        if step.say is not None:
            fake.push(fake.text(user, step.say, lang=lang))
        elif step.press is not None:
            fake.push(fake.press(user, step.press, lang=lang))
        else:
            make: Callable[..., dict[str, Any]] = getattr(fake, step.other or "sticker")
            fake.push(make(user, lang=lang))
        await fake.wait_for("sendMessage", chat_id=user, since=mark, timeout=timeout)
        await fake.quiet(0.4)
        calls = [
            c
            for c in fake.calls[mark:]
            if c.method != "getUpdates" and (c.chat_id == user or c.method == "answerCallbackQuery")
        ]
        exchanges.append(Exchange(step, calls))
    return exchanges


def render(exchanges: list[Exchange]) -> str:
    lines: list[str] = []
    for ex in exchanges:
        lines.append(f"> {_what(ex.step)}")
        for call in ex.calls:
            if call.method == "sendMessage":
                lines.append("< " + call.text.replace("\n", "\n  "))
                for row in call.buttons:
                    lines.append("  " + "  ".join(f"[{b.get('text')}]" for b in row))
            elif call.method == "answerCallbackQuery":
                lines.append("  (button answered)")
            elif call.method in ("editMessageText", "editMessageReplyMarkup"):
                lines.append(f"  (pressed keyboard retired: {call.method})")
        lines.append("")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.telegram.transcript")
    parser.add_argument("--no-rasa", action="store_true", help="the degraded classifier")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            env = bot_env(
                fake,
                f"{new_id()}:AAHtranscript{'x' * 20}",
                f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
                # A free port: the bot starts a Rasa server of its own there.
                NLU_URL=NO_RASA_URL if args.no_rasa else f"http://127.0.0.1:{free_port()}",
            )
            proc = await start_bot(fake, env, Path(tmp) / "bot.log")
            try:
                exchanges = await play(fake, new_id(), SCRIPT)
            finally:
                await proc.stop()
            sys.stdout.write(render(exchanges))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
