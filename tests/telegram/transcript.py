"""A new citizen's first conversation, as a transcript: the real bot
process (`python -m bot`) against the fake Bot API server, driven the way
Telegram would drive it. For the issue's closing note and for a look by eye.

    python -m tests.telegram.transcript            (Rasa: the bot starts its own)
    python -m tests.telegram.transcript --no-rasa  (the degraded classifier)
    python -m tests.telegram.transcript --script booking-kk   (also: booking-ru,
        application-kk, application-ru, handoff-ru, all)

A press of "prefix*" presses the first button whose payload starts with
the prefix (a day or a time the calendar offers); a `staff` step is an
agent's message in the citizen's staff-chat topic (or, for a command, in
the staff chat itself).

`test_a_new_citizens_first_conversation` (test_telegram_e2e.py) plays the
same script and checks that every step is answered.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
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
    staff: str | None = None  # an agent writes this in the staff chat


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


# A Kazakh-speaking citizen books a slot by text, cancels, books again by buttons.
BOOKING_KK = [
    Step(say="/start"),
    Step(press="lang:kk"),
    Step(say="ертең ЦОН-ға жазылғым келеді"),
    Step(press="bk:s:duplicate"),
    Step(press="bk:c:*"),
    Step(press="bk:o:*"),
    Step(press="bk:d:*"),
    Step(press="bk:t:*"),
    Step(press="bk:ok:*"),
    Step(press="bk:ok:*"),  # a double tap on "confirm"
    Step(say="менің жазылуым"),
    Step(say="грантқа кезекке жазылғым келеді"),
]

BOOKING_RU = [
    Step(say="/start"),
    Step(press="lang:ru"),
    Step(say="запишите меня на пятницу после обеда"),
    Step(press="bk:s:duplicate"),
    Step(press="bk:c:*"),
    Step(press="bk:o:*"),
    Step(press="bk:t:*"),
    Step(press="bk:ok:*"),
    Step(say="хочу перенести запись"),
    Step(say="/book"),
]

APPLICATION_KK = [
    Step(say="/start"),
    Step(press="lang:kk"),
    Step(say="дипломның телнұсқасына өтініш бергім келеді"),
    Step(press="app:consent:yes"),
    Step(say="Сәрсенбаев Ержан Қайратұлы"),
    Step(say="Информатика"),
    Step(say="Әл-Фараби атындағы Қазақ ұлттық университеті"),
    Step(say="2031"),
    Step(say="2012"),
    Step(say="Жұмабаева Әсел Серікқызы"),
    Step(say="123456789012"),
    Step(say="950101400009"),
    Step(say="950101400002"),
    Step(say="8 701 123 45 67"),
    Step(press="app:skip"),
    Step(press="app:pick:reason:*"),
    Step(press="app:pick:requested:*"),
    Step(press="app:pick:channel:*"),
    Step(press="app:confirm"),
    Step(staff="/apps"),
    Step(say="/status"),
]

APPLICATION_RU = [
    Step(say="/start"),
    Step(press="lang:ru"),
    Step(say="хочу подать заявление на дубликат диплома"),
    Step(press="app:consent:yes"),
    Step(say="Иванов Пётр Сергеевич"),
    Step(say="Юриспруденция"),
    Step(say="Карагандинский университет имени академика Е. А. Букетова"),
    Step(say="2010"),
    Step(say="Петрова Анна Викторовна"),
    Step(say="880215450123"),
    Step(say="880215450122"),
    Step(say="+7 777 555 44 33"),
    Step(press="app:skip"),
    Step(press="app:pick:reason:*"),
    Step(press="app:pick:requested:*"),
    Step(press="app:pick:channel:*"),
    Step(press="app:confirm"),
    Step(say="/status"),
]

HANDOFF_RU = [
    Step(say="/start"),
    Step(press="lang:ru"),
    Step(say="хочу поговорить с человеком"),
    Step(say="мне отказали в дубликате, почему?"),
    Step(staff="Здравствуйте! Назовите, пожалуйста, номер заявления, я проверю."),
    Step(say="спасибо, номера нет"),
    Step(staff="/close"),
    Step(say="какие документы нужны для дубликата?"),
]

# A citizen who writes as people do on a phone: a story and two questions in
# one message, follow-ups, then books and applies by writing, not tapping.
STORY_RU = [
    Step(say="/start"),
    Step(press="lang:ru"),
    Step(
        say="Добрый день. Я в 2012 году окончила КазНУ, при переезде диплом порвался. "
        "Куда мне обращаться и сколько это займёт?"
    ),
    Step(say="а через егов можно?"),
    Step(say="эцп нужна?"),
    Step(say="а квитанцию какую-то дадут что документы приняли?"),
    Step(say="хорошо, тогда запишите меня в цон"),
    Step(say="дубликат"),
    Step(say="Алматы"),
    Step(say="первый"),
    Step(say="в пятницу"),
    Step(say="в 10 утра"),
    Step(say="да, подтверждаю"),
    Step(say="и ещё хочу подать заявление на дубликат"),
]

STORY_KK = [
    Step(say="/start"),
    Step(press="lang:kk"),
    Step(
        say="Сәлеметсіз бе, 2010 жылы Қарағанды университетін бітіргем, дипломымды жоғалтып "
        "алдым. Қайда бару керек және қанша күнде дайын болады?"
    ),
    Step(say="ал портал ше?"),
    Step(say="ecq kerek pe"),
    Step(say="хқо-дан уақытында алмасам не болады"),
    Step(say="жақсы, ХҚО-ға кезекке жазылғым келеді"),
    Step(say="телнұсқа"),
    Step(say="Астана"),
    Step(say="бірінші"),
    Step(say="жұма"),
    Step(say="сағат 11-де"),
    Step(say="иә"),
    Step(say="енді телнұсқаға өтініш бергім келеді"),
]

SCRIPTS = {
    "first": SCRIPT,
    "story-ru": STORY_RU,
    "story-kk": STORY_KK,
    "booking-kk": BOOKING_KK,
    "booking-ru": BOOKING_RU,
    "application-kk": APPLICATION_KK,
    "application-ru": APPLICATION_RU,
    "handoff-ru": HANDOFF_RU,
}
STAFF_CHAT = -1001414000001
AGENT = 555000111


def _resolve(fake: FakeTelegram, user: int, press: str) -> str:
    """A "prefix*" press: the first such button in the chat's last keyboard."""
    if not press.endswith("*"):
        return press
    prefix = press[:-1]
    for call in reversed(fake.calls):
        if call.chat_id == user and call.method in ("sendMessage", "editMessageText"):
            found = [p for p in call.payloads if p.startswith(prefix)]
            if found:
                return found[0]
            if call.payloads:
                break
    return press  # no such button: the press is sent as is (a stale button)


def _staff_update(fake: FakeTelegram, user: int, text: str, ids: Any) -> dict[str, Any]:
    topics = [c for c in fake.calls if c.method == "createForumTopic" and c.ok]
    message: dict[str, Any] = {
        "message_id": next(ids),
        "date": int(time.time()),
        "chat": {"id": STAFF_CHAT, "type": "supergroup", "title": "1414", "is_forum": True},
        "from": fake.user(AGENT),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if topics and not text.startswith("/apps"):
        message["message_thread_id"] = int(topics[-1].result["message_thread_id"])
        message["is_topic_message"] = True
    fake.messages[(STAFF_CHAT, message["message_id"])] = message
    return fake._update(message=message)  # the fake's own update ids: in order


_SAID = ("sendMessage", "editMessageText", "sendDocument", "copyMessage")


@dataclass
class Exchange:
    step: Step
    calls: list[Call]
    note: str = ""


def _what(step: Step) -> str:
    if step.say is not None:
        return step.say
    if step.press is not None:
        return f"[presses {step.press}]"
    if step.staff is not None:
        return f"[staff chat] {step.staff}"
    return f"[sends a {step.other}]"


async def play(
    fake: FakeTelegram,
    user: int,
    script: list[Step],
    *,
    lang: str = "ru",
    timeout: float = 30,
    pause: float = 2.0,
    send: Callable[[dict[str, Any]], Awaitable[Any]] | None = None,
    quiet: bool = True,
) -> list[Exchange]:
    """Play `script` as citizen `user`; after each step wait until the bot
    has gone quiet and keep what it did in that chat. A person reads the
    answer before the next step: `pause` seconds (the flood guard lets a
    burst of 5 through, then one message every 2 s). `send` delivers an
    update (a webhook POST); by default it is queued for getUpdates.
    `quiet=False` waits for the first reply only (other citizens keep the
    bot busy)."""

    async def deliver(update: dict[str, Any]) -> None:
        if send is None:
            fake.push(update)
        else:
            await send(update)

    exchanges: list[Exchange] = []
    ids = itertools.count(10**6)
    for i, step in enumerate(script):
        if i:
            await asyncio.sleep(pause)
        mark = fake.mark()
        if step.say is not None:
            await deliver(fake.text(user, step.say, lang=lang))
        elif step.press is not None:
            step = Step(press=_resolve(fake, user, step.press))
            try:
                update = fake.press(user, step.press, lang=lang)
            except LookupError:
                exchanges.append(Exchange(step, [], "no such button on the screen: skipped"))
                continue
            await deliver(update)
        elif step.staff is not None:
            await deliver(_staff_update(fake, user, step.staff, ids))
        else:
            make: Callable[..., dict[str, Any]] = getattr(fake, step.other or "sticker")
            await deliver(make(user, lang=lang))
        # Until the bot has said something in either chat (a press may be
        # answered by an edit only, a staff command by a post in the staff chat).
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(
            c.method in _SAID and c.chat_id in (user, STAFF_CHAT) for c in fake.calls[mark:]
        ):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no answer to {_what(step)!r} in {timeout} s")
            await asyncio.sleep(0.05)
        if quiet:
            await fake.quiet(0.6)
        else:
            await asyncio.sleep(0.6)
        calls = [
            c
            for c in fake.calls[mark:]
            if c.method != "getUpdates"
            and (c.chat_id in (user, STAFF_CHAT) or c.method == "answerCallbackQuery")
        ]
        exchanges.append(Exchange(step, calls))
    return exchanges


def render(exchanges: list[Exchange]) -> str:
    lines: list[str] = []
    for ex in exchanges:
        lines.append(f"> {_what(ex.step)}")
        if ex.note:
            lines.append(f"  ({ex.note})")
        for call in ex.calls:
            who = "<" if call.chat_id != STAFF_CHAT else "< [staff chat]"
            if call.method in ("sendMessage", "copyMessage") and call.chat_id == STAFF_CHAT:
                lines.append(who + " " + call.text.replace("\n", "\n  "))
                for row in call.buttons:
                    lines.append("  " + "  ".join(f"[{b.get('text')}]" for b in row))
            elif call.method == "copyMessage":
                lines.append("< (the agent's message, copied) " + (ex.step.staff or ""))
            elif call.method == "createForumTopic":
                lines.append(f"  [staff chat: topic «{call.params.get('name')}» opened]")
            elif call.method == "sendDocument":
                lines.append(f"{who} (a document: {call.params.get('caption') or ''})")
            elif call.method == "sendMessage":
                lines.append("< " + call.text.replace("\n", "\n  "))
                for row in call.buttons:
                    lines.append("  " + "  ".join(f"[{b.get('text')}]" for b in row))
            elif call.method == "answerCallbackQuery":
                lines.append("  (button answered)")
            elif call.method == "editMessageText":
                lines.append("< (edited) " + call.text.replace("\n", "\n  "))
                for row in call.buttons:
                    lines.append("  " + "  ".join(f"[{b.get('text')}]" for b in row))
            elif call.method == "editMessageReplyMarkup":
                lines.append("  (pressed keyboard retired)")
        lines.append("")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.telegram.transcript")
    parser.add_argument("--no-rasa", action="store_true", help="the degraded classifier")
    parser.add_argument("--script", default="first", choices=[*SCRIPTS, "all"])
    args = parser.parse_args(argv)
    names = list(SCRIPTS) if args.script == "all" else [args.script]
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            env = bot_env(
                fake,
                f"{new_id()}:AAHtranscript{'x' * 20}",
                f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
                # A free port: the bot starts a Rasa server of its own there.
                NLU_URL=NO_RASA_URL if args.no_rasa else f"http://127.0.0.1:{free_port()}",
                STAFF_CHAT_ID=str(STAFF_CHAT),
            )
            # With Rasa to start on a busy machine, the bot may take minutes.
            proc = await start_bot(fake, env, Path(tmp) / "bot.log", timeout=300)
            try:
                for name in names:
                    lang = "kk" if name.endswith("-kk") else "ru"
                    exchanges = await play(fake, new_id(), SCRIPTS[name], lang=lang)
                    sys.stdout.write(f"## {name}\n\n" + render(exchanges) + "\n")
            finally:
                await proc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
