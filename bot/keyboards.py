"""Inline keyboards from the assistant's buttons, and the few the bot owns."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from actions.events import Button
from actions.i18n import LANGS, Translator

log = logging.getLogger(__name__)

# Telegram refuses a callback_data longer than this (bytes, UTF-8).
CALLBACK_DATA_MAX = 64


def inline_keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    """One keyboard row per row of buttons; None when there is no button."""
    keyboard: list[list[InlineKeyboardButton]] = []
    for row in rows:
        line = []
        for button in row:
            if len(button.payload.encode()) > CALLBACK_DATA_MAX:
                # Telegram would reject the whole message; drop the one button.
                log.error("button payload over %d bytes dropped", CALLBACK_DATA_MAX)
                continue
            line.append(InlineKeyboardButton(text=button.text, callback_data=button.payload))
        if line:
            keyboard.append(line)
    return InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None


def buttons_from_json(rows: Sequence[Sequence[dict[str, str]]] | None) -> list[list[Button]]:
    """Buttons stored as JSON (the outbox) back to `Button`s."""
    return [[Button(b["text"], b["payload"]) for b in row] for row in rows or []]


def buttons_to_json(rows: Sequence[Sequence[Button]]) -> list[list[dict[str, str]]]:
    return [[b.to_json() for b in row] for row in rows]


def language_buttons(t: Translator) -> list[list[Button]]:
    """Қазақша / Русский: each language named in itself."""
    return [[Button(t(lang, "tg-language-name"), f"lang:{lang}") for lang in LANGS]]


def pressed_label(markup: InlineKeyboardMarkup | None, data: str | None) -> str | None:
    """The text of the button carrying `data` on `markup`."""
    if markup is None or data is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None
