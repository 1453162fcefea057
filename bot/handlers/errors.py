"""When handling an update fails: log it (without personal data) and give
the citizen a short apology in their language with a way forward."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import ErrorEvent, Update

from actions.assistant import Assistant
from actions.events import Button
from actions.i18n import Translator
from bot.middlewares.citizen import language_of
from bot.render import send_text
from storage.db import database_unavailable

log = logging.getLogger(__name__)


def _citizen_chat(update: Update) -> tuple[int, int, str | None] | None:
    """(user id, private chat id, app language) of the update's author."""
    message = update.message or update.edited_message
    if message is not None and message.from_user is not None:
        if message.chat.type != "private":
            return None
        return message.from_user.id, message.chat.id, message.from_user.language_code
    callback = update.callback_query
    if callback is not None and (
        callback.message is None or callback.message.chat.type == "private"
    ):
        return callback.from_user.id, callback.from_user.id, callback.from_user.language_code
    return None


async def on_error(
    event: ErrorEvent, bot: Bot, assistant: Assistant, translator: Translator
) -> bool:
    exc = event.exception
    if isinstance(exc, TelegramForbiddenError):
        log.info("update %s: the user blocked the bot", event.update.update_id)
        return True
    log.error("update %s failed: %s", event.update.update_id, type(exc).__name__, exc_info=exc)
    who = _citizen_chat(event.update)
    if who is None:
        return True
    user_id, chat_id, hint = who
    try:
        lang = await language_of(assistant, user_id, hint)
    except Exception:  # the store may be what failed; the apology still goes out
        log.warning("language unknown for the apology", exc_info=True)
        lang = "kk"
    buttons = [
        [
            Button(translator(lang, "btn-operator"), "op"),
            Button(translator(lang, "btn-menu"), "menu"),
        ]
    ]
    text = translator(lang, "tg-error")
    if database_unavailable(exc):
        # Nothing was done (and the conversation's state was not saved): the
        # same press or message, once the database is back, does it.
        pressed = event.update.callback_query.data if event.update.callback_query else None
        if pressed:
            text = translator(lang, "tg-db-down-press")
            buttons = [
                [Button(translator(lang, "tg-btn-retry"), pressed)],
                [Button(translator(lang, "btn-menu"), "menu")],
            ]
        else:
            text = translator(lang, "tg-db-down-text")
            buttons = [[Button(translator(lang, "btn-menu"), "menu")]]
    try:
        await send_text(bot, chat_id, text, buttons)
    except TelegramAPIError:
        log.warning("apology for update %s not delivered", event.update.update_id, exc_info=True)
    return True


def make_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
