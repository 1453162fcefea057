"""/start, /help, /lang: meeting the citizen and the language choice."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from actions.assistant import Assistant
from actions.i18n import Translator
from bot.keyboards import language_buttons
from bot.middlewares.citizen import Citizen
from bot.render import send_outcome, send_reply, send_text


async def cmd_start(message: Message, bot: Bot, assistant: Assistant, citizen: Citizen) -> None:
    """Greeting in both languages and the language choice; the menu follows the choice."""
    await send_outcome(bot, message.chat.id, await assistant.start(citizen.id))


async def cmd_help(
    message: Message, bot: Bot, assistant: Assistant, translator: Translator, citizen: Citizen
) -> None:
    lang = await citizen.lang()
    await send_text(bot, message.chat.id, translator(lang, "tg-help"))
    await send_reply(bot, message.chat.id, assistant.menu(lang))


async def cmd_lang(message: Message, bot: Bot, translator: Translator, citizen: Citizen) -> None:
    lang = await citizen.lang()
    await send_text(
        bot, message.chat.id, translator(lang, "choose-language"), language_buttons(translator)
    )


def make_router() -> Router:
    router = Router(name="start")
    router.message.register(cmd_start, CommandStart())
    router.message.register(cmd_help, Command("help"))
    router.message.register(cmd_lang, Command("lang"))
    return router
