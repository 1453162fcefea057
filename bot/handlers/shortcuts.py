"""/book, /status, /operator, /cancel: the menu's buttons as commands.

Each is the same event as pressing the button, so the assistant (and the
features that will implement booking and applications) sees one thing.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from actions.assistant import Assistant
from actions.events import Event
from bot.middlewares.citizen import Citizen
from bot.render import send_outcome

SHORTCUTS = {
    "book": "ask:book_queue",
    "status": "ask:check_status",
    "operator": "op",
    "cancel": "cancel",
    "close": "ho:close",
}


async def cmd_shortcut(
    message: Message, command: CommandObject, bot: Bot, assistant: Assistant, citizen: Citizen
) -> None:
    payload = SHORTCUTS[command.command.lower()]
    outcome = await assistant.handle(
        Event(citizen.id, button=payload, lang_hint=await citizen.lang())
    )
    await send_outcome(bot, message.chat.id, outcome)


def make_router() -> Router:
    router = Router(name="shortcuts")
    router.message.register(cmd_shortcut, Command(*SHORTCUTS))
    return router
