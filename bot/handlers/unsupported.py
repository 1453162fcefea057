"""Whatever is not text: stickers, photos, voice, files, places, contacts,
edited messages. A short reply in the citizen's language says what to do."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from actions.events import Button
from actions.i18n import Translator
from bot.middlewares.citizen import Citizen
from bot.render import send_text


def explanation_key(message: Message) -> str:
    """The message (bot.ftl) that explains what to do instead of this."""
    if message.sticker or message.dice or message.animation:
        return "tg-sticker"
    if message.photo:
        return "tg-photo"
    if message.voice or message.audio or message.video_note:
        return "tg-voice"
    if message.video:
        return "tg-video"
    if message.document:
        return "tg-document"
    if message.location or message.venue:
        return "tg-location"
    if message.contact:
        return "tg-contact"
    return "tg-unsupported"


async def _explain(
    message: Message, bot: Bot, translator: Translator, citizen: Citizen, key: str
) -> None:
    lang = await citizen.lang()
    menu = [[Button(translator(lang, "btn-menu"), "menu")]]
    await send_text(bot, message.chat.id, translator(lang, key), menu)


async def on_edited(message: Message, bot: Bot, translator: Translator, citizen: Citizen) -> None:
    await _explain(message, bot, translator, citizen, "tg-edited")


async def on_not_text(message: Message, bot: Bot, translator: Translator, citizen: Citizen) -> None:
    await _explain(message, bot, translator, citizen, explanation_key(message))


def make_router() -> Router:
    router = Router(name="unsupported")
    router.edited_message.register(on_edited)
    router.message.register(on_not_text)
    return router
