"""A citizen who sends dozens of messages in seconds gets one polite notice;
the surplus is dropped instead of being fed to the NLU one by one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from actions.i18n import Translator
from bot.middlewares.citizen import Citizen
from bot.ratelimit import FloodGuard

log = logging.getLogger(__name__)


class FloodMiddleware(BaseMiddleware):
    """Inner middleware on the citizens' router (messages and button presses)."""

    def __init__(self, guard: FloodGuard, translator: Translator) -> None:
        self.guard = guard
        self.t = translator

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        citizen: Citizen | None = data.get("citizen")
        if citizen is None:
            return await handler(event, data)
        verdict = await self.guard.check(citizen.id, press=isinstance(event, CallbackQuery))
        if verdict.allowed:
            return await handler(event, data)
        log.info("flood: update from a user dropped (notice=%s)", verdict.notify)
        notice = self.t(await citizen.lang(), "tg-flood") if verdict.notify else None
        if isinstance(event, CallbackQuery):
            # A press must always be answered, or the button keeps spinning.
            await event.answer(notice)
        elif isinstance(event, Message) and notice:
            await event.answer(notice)
        return None
