"""Who wrote: the citizen behind an update, and the language to answer in
when the bot itself speaks (a sticker, a flood notice, an apology)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from actions.assistant import Assistant
from actions.i18n import LANGS

log = logging.getLogger(__name__)

DEFAULT_LANG = "kk"


async def language_of(assistant: Assistant, user_id: int, hint: str | None = None) -> str:
    """The language of the conversation, else the one on the user's row,
    else the Telegram app's language when it is one of ours, else Kazakh.

    Never fails: a store that does not answer (Redis, the database) is
    skipped, so that an apology for it still comes in the citizen's
    language (the app's), not in Kazakh to a Russian speaker."""
    try:
        conv = await assistant.states.load(user_id)
    except Exception as exc:
        log.warning("conversation language unknown (%s)", type(exc).__name__)
    else:
        if conv.lang in LANGS:
            return conv.lang
    try:
        stored = await assistant.users.get_language(user_id)
    except Exception as exc:
        log.warning("remembered language unknown (%s)", type(exc).__name__)
    else:
        if stored in LANGS:
            return stored
    code = (hint or "").split("-")[0].lower()
    return code if code in LANGS else DEFAULT_LANG


class Citizen:
    """The user of the update; the language is looked up on first use only."""

    def __init__(self, user: User, assistant: Assistant) -> None:
        self.id = user.id
        self._hint = user.language_code
        self._assistant = assistant
        self._lang: str | None = None

    async def lang(self) -> str:
        if self._lang is None:
            self._lang = await language_of(self._assistant, self.id, self._hint)
        return self._lang


class CitizenMiddleware(BaseMiddleware):
    """Outer middleware on `dp.update`: puts `citizen` into handler data."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None:
            data["citizen"] = Citizen(user, self.assistant)
        return await handler(event, data)
