"""Each update is handled once, even when it arrives twice — and again when
the process handling it died.

Telegram redelivers a webhook update it thinks failed, a restarted poller
gets back the updates it had not confirmed, and with several workers the
same update may reach two of them. The update id is claimed in two stages
(bot/dedupe.py): *handling*, a lease of HANDLING_TTL renewed while the
handler works, then *done* for UPDATE_TTL (longer than Telegram keeps
updates) once it ended, normally or with an error (the error handler
answers those). A done update is dropped; one someone else is handling
is not handled now: the middleware returns `Busy`, and the poller tries
it again later (a webhook answers non-2xx, so Telegram redelivers it).
When the other's lease lapses (its process died) the update is handled
here. While it is handled, the plain claims its handlers take (one press
per keyboard...) are marked with its id (bot/dedupe.py CURRENT_UPDATE), so
that handling it again after a crash is not taken for a second press.

It runs inside the per-user lock (ordering.py), so a second copy of an
update that is being handled waits for the first and then finds it done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.dedupe import CURRENT_UPDATE, HANDLING_TTL, UPDATE_TTL, Busy, Claims, Renewals, Stage

log = logging.getLogger(__name__)


class UpdateDedupeMiddleware(BaseMiddleware):
    """Outer middleware on `dp.update`."""

    def __init__(
        self, claims: Claims, ttl: float = UPDATE_TTL, handling_ttl: float = HANDLING_TTL
    ) -> None:
        self.claims = claims
        self.ttl = ttl
        self.handling_ttl = handling_ttl
        self.renewals = Renewals(handling_ttl / 3)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        key = f"update:{event.update_id}"
        begun = await self.claims.begin(key, self.handling_ttl)
        if begun.stage is Stage.DONE:
            log.info("update %s already handled: dropped", event.update_id)
            return None
        if begun.stage is Stage.BUSY:
            log.info(
                "update %s is being handled elsewhere (lease %.1f s): not now",
                event.update_id,
                begun.retry_after,
            )
            return Busy(event.update_id, begun.retry_after)

        async def renew() -> None:
            if not await self.claims.renew(key, self.handling_ttl):
                log.warning("update %s: its handling claim lapsed", event.update_id)

        current = CURRENT_UPDATE.set(event.update_id)
        try:
            with self.renewals.keep(renew):
                result = await handler(event, data)
        except Exception:
            # Handled, badly: the error handler answers it; not again.
            await self._finish(key)
            raise
        finally:
            CURRENT_UPDATE.reset(current)
        await self._finish(key)
        return result

    async def _finish(self, key: str) -> None:
        try:
            await self.claims.finish(key, self.ttl)
        except Exception:
            # The reply is out; a redelivery (rare) would be answered twice.
            log.warning("%s not marked done", key, exc_info=True)
