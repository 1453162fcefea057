"""Notes the latest text message of each private chat as soon as it arrives,
before it waits for the per-user lock: the handler of the message before
it, holding that lock, drops its reply to a fragment when it sees a newer
message came (bot/bursts.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.bursts import Latest

log = logging.getLogger(__name__)


class LatestMessageMiddleware(BaseMiddleware):
    """Outer middleware on `dp.update`, before the ordering lock."""

    def __init__(self, latest: Latest) -> None:
        self.latest = latest

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = event.message if isinstance(event, Update) else None
        if message is not None and message.chat.type == "private" and message.text is not None:
            try:
                await self.latest.note(message.chat.id, message.message_id)
            except Exception:
                # The burst's earlier reply is sent then: noise, not a loss.
                log.warning("latest message not noted", exc_info=True)
        return await handler(event, data)
