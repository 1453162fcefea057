"""The conversation itself: typed questions and button presses go to the
assistant; its replies come back as messages with inline keyboards.

A short message that says nothing on its own ("здравствуйте", "КазНУ") is
kept by the assistant to be read with the next one; its reply waits a
moment (bot/bursts.py) and is dropped when that next message came."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from actions.assistant import Assistant
from actions.events import Event
from actions.i18n import Translator
from bot.bursts import Bursts
from bot.dedupe import Claims
from bot.middlewares.citizen import Citizen
from bot.render import retire_keyboard, send_outcome, send_reply, send_text

log = logging.getLogger(__name__)

# A second press on the same keyboard within this time is a double tap.
PRESS_WINDOW = 30.0


async def on_unknown_command(
    message: Message, bot: Bot, assistant: Assistant, translator: Translator, citizen: Citizen
) -> None:
    lang = await citizen.lang()
    await send_text(bot, message.chat.id, translator(lang, "tg-unknown-command"))
    await send_reply(bot, message.chat.id, assistant.menu(lang))


async def on_text(
    message: Message,
    bot: Bot,
    assistant: Assistant,
    citizen: Citizen,
    bursts: Bursts,
    release_update: Callable[[], None] | None = None,
) -> None:
    text = message.text or ""
    started = assistant.clock().timestamp()
    began = time.perf_counter()
    outcome = await assistant.handle(Event(citizen.id, text=text, lang_hint=await citizen.lang()))
    # The turn, without the citizen's words: what was understood, from where.
    log.info(
        "turn: lang=%s intent=%s confidence=%.2f unit=%s nlu=%s ms=%d",
        outcome.lang,
        outcome.intent,
        outcome.confidence,
        outcome.units[0] if outcome.units else "-",
        outcome.nlu_source,
        (time.perf_counter() - began) * 1000,
    )
    if (
        bursts.may_be_fragment(text, outcome.intent)
        and await kept_as_fragment(assistant, citizen.id, text, started)
        and await _superseded(bursts, bot, message, release_update)
    ):
        log.debug("reply to a fragment dropped: the newer message is read with it")
        return
    await send_outcome(bot, message.chat.id, outcome)


async def _superseded(
    bursts: Bursts, bot: Bot, message: Message, release: Callable[[], None] | None
) -> bool:
    """The fragment is kept: its reply waits for the rest of the burst, and
    the update no longer holds the transport back (bot/telegram.py)."""
    if release is not None:
        release()
    return await bursts.superseded(bot, message.chat.id, message.message_id)


async def kept_as_fragment(assistant: Assistant, user_id: int, text: str, since: float) -> bool:
    """Whether the assistant kept `text` (handled since `since`) to read it
    with the next message. A flow's "yes" / "no" is not kept: its reply,
    whatever its intent, is never held back."""
    conv = await assistant.states.load(user_id)
    return any(
        isinstance(f, list) and len(f) == 2 and f[1] == text and float(f[0]) >= since
        for f in conv.fragments
    )


async def on_button(
    callback: CallbackQuery, bot: Bot, assistant: Assistant, claims: Claims, citizen: Citizen
) -> None:
    # Answer first: the citizen's button stops spinning whatever happens next.
    try:
        await callback.answer()
    except TelegramBadRequest as exc:  # "query is too old" after a long outage
        log.info("callback not answered: %s", exc.message)
    message = callback.message
    chat_id = message.chat.id if message is not None else citizen.id
    if message is not None and not await claims.claim(
        f"press:{chat_id}:{message.message_id}", PRESS_WINDOW
    ):
        return  # the same keyboard was pressed twice: the first press is handled
    await retire_keyboard(callback)
    outcome = await assistant.handle(
        Event(citizen.id, button=callback.data, lang_hint=await citizen.lang())
    )
    await send_outcome(bot, chat_id, outcome)


async def on_empty_button(callback: CallbackQuery) -> None:
    await callback.answer()


def make_router() -> Router:
    router = Router(name="dialogue")
    # Commands are handled by earlier routers; a slash here is a typo or an old command.
    router.message.register(on_unknown_command, F.text.startswith("/"))
    router.message.register(on_text, F.text)
    router.callback_query.register(on_button, F.data)
    router.callback_query.register(on_empty_button)
    return router
