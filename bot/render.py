"""The assistant's replies as Telegram messages.

Plain text (no parse mode), so nothing in an answer needs escaping; long
texts are split on paragraph, then line, then word boundaries; the keyboard
goes with the last part.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, CallbackQuery, LinkPreviewOptions, Message

from actions.events import Button, Outcome, Reply
from bot.keyboards import inline_keyboard, pressed_label

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram refuses an empty message; a keyboard without words still needs one.
EMPTY_TEXT = "…"


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """The largest n such that text[:n] is at most `limit` UTF-16 units."""
    if _units(text) <= limit:
        return len(text)
    n, used = 0, 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        n += 1
    return n


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` units, cut at the last paragraph break, else
    line break, else space in the second half of a part; never mid-word
    unless a single word is longer than a part."""
    rest = text.strip()
    parts: list[str] = []
    while rest:
        end = _fit(rest, limit)
        if end >= len(rest):
            parts.append(rest)
            break
        head = rest[:end]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            i = head.rfind(sep)
            if i >= end // 2:
                cut = i
                break
        if cut <= 0:
            for sep in ("\n\n", "\n", " "):
                cut = head.rfind(sep)
                if cut > 0:
                    break
        if cut <= 0:
            cut = end
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    return parts


CAPTION_LIMIT = 1024


async def send_reply(bot: Bot, chat_id: int, reply: Reply) -> Message:
    if reply.document is not None:
        # A file (the application's PDF): its text is the caption; a caption
        # longer than Telegram allows goes first as its own message.
        name, data = reply.document
        caption = reply.text
        if len(caption) > CAPTION_LIMIT:
            await send_text(bot, chat_id, caption)
            caption = ""
        return await bot.send_document(
            chat_id,
            BufferedInputFile(data, filename=name),
            caption=caption or None,
            reply_markup=inline_keyboard(reply.buttons),
        )
    return await send_text(bot, chat_id, reply.text, reply.buttons)


async def send_text(
    bot: Bot, chat_id: int, text: str, buttons: Sequence[Sequence[Button]] = ()
) -> Message:
    """Send `text` (split when long) with `buttons` under the last part;
    return the last message."""
    parts = split_text(text) or [EMPTY_TEXT]
    keyboard = inline_keyboard(buttons)
    message: Message | None = None
    for i, part in enumerate(parts):
        message = await bot.send_message(
            chat_id,
            part,
            reply_markup=keyboard if i == len(parts) - 1 else None,
            link_preview_options=NO_PREVIEW,
        )
    assert message is not None
    return message


async def send_outcome(bot: Bot, chat_id: int, outcome: Outcome) -> None:
    for reply in outcome.replies:
        await send_reply(bot, chat_id, reply)


async def retire_keyboard(callback: CallbackQuery) -> None:
    """The pressed keyboard leaves the chat: the message keeps its text and
    gains a line with the choice made, so the history reads as a dialogue."""
    message = callback.message
    if not isinstance(message, Message):
        return  # too old for Telegram to show us (InaccessibleMessage)
    label = pressed_label(message.reply_markup, callback.data)
    try:
        if message.text and label and _units(message.text) + _units(label) + 3 <= TEXT_LIMIT:
            await message.edit_text(
                f"{message.text}\n\n» {label}",
                reply_markup=None,
                link_preview_options=NO_PREVIEW,
            )
        elif message.reply_markup is not None:
            await message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest as exc:
        # "message is not modified" / "message can't be edited": the keyboard
        # is already gone or cannot go; the answer is sent either way.
        log.info("pressed keyboard not retired: %s", exc.message)
