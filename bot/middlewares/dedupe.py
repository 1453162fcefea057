"""Each update is handled once, even when it arrives twice.

Telegram redelivers a webhook update it thinks failed, a restarted poller
gets back the updates it had not confirmed, and with several workers the
same update may reach two of them. The update id is claimed (Redis `SET NX`
with a TTL longer than Telegram keeps updates; memory without Redis); who
does not get the claim drops the update.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.dedupe import UPDATE_TTL, Claims

log = logging.getLogger(__name__)


class UpdateDedupeMiddleware(BaseMiddleware):
    """Outer middleware on `dp.update`."""

    def __init__(self, claims: Claims, ttl: float = UPDATE_TTL) -> None:
        self.claims = claims
        self.ttl = ttl

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and not await self.claims.claim(
            f"update:{event.update_id}", self.ttl
        ):
            log.info("update %s already handled: dropped", event.update_id)
            return None
        return await handler(event, data)
