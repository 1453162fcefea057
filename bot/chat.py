"""Terminal chat: the same dialogue as Telegram, typed or as JSON lines."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from actions.assistant import Assistant
from actions.events import Event, Outcome
from actions.i18n import default_translator

TERMINAL_USER = 1


async def _readline() -> str | None:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


def _print(*parts: Any) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def _show(outcome: Outcome) -> list[str]:
    """Print replies; return the button payloads, numbered from 1."""
    payloads: list[str] = []
    for reply in outcome.replies:
        _print(f"\n🤖 {reply.text}")
        for button in reply.flat_buttons():
            payloads.append(button.payload)
            _print(f"   [{len(payloads)}] {button.text}")
    return payloads


async def run_interactive(assistant: Assistant) -> None:
    _print(default_translator()("kk", "chat-banner"))
    payloads = _show(await assistant.start(TERMINAL_USER))
    while True:
        sys.stdout.write("\n> ")
        sys.stdout.flush()
        line = await _readline()
        if line is None:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/start":
            payloads = _show(await assistant.start(TERMINAL_USER))
            continue
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(payloads):
            event = Event(TERMINAL_USER, button=payloads[int(text) - 1])
        else:
            event = Event(TERMINAL_USER, text=text)
        outcome = await assistant.handle(event)
        payloads = _show(outcome)
        if outcome.degraded:
            why = (
                "Rasa too slow for this message"
                if outcome.nlu_source == "slow"
                else "Rasa unavailable"
            )
            _print(f"   (NLU: degraded mode, {why})")


async def run_jsonl(assistant: Assistant) -> None:
    while True:
        line = await _readline()
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            user = int(msg.get("user", TERMINAL_USER))
            if "button" in msg:
                event = Event(user, button=str(msg["button"]))
            else:
                event = Event(user, text=str(msg.get("text", "")))
        except (ValueError, TypeError, AttributeError) as exc:
            _print(json.dumps({"error": f"bad input line: {exc}"}, ensure_ascii=False))
            continue
        if event.text is not None and event.text.strip() == "/start":
            outcome = await assistant.start(event.user_id)
        else:
            outcome = await assistant.handle(event)
        _print(json.dumps(outcome.to_json(), ensure_ascii=False))
