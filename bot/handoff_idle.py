"""Hand-offs nobody writes in are given back to the assistant.

A citizen who asked for a person and went away, or a topic the agents
forgot: after `HANDOFF_IDLE_HOURS` without a message from either side the
hand-off closes, the citizen is told (through the outbox, so once, even
across restarts: the close and the notice are one transaction) and the
topic gets a line saying why. An unfinished application form the citizen
left for the hand-off is offered again, as when a person closes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from actions.assistant import Assistant
from actions.handoff import NAME, closed_notice, restore
from actions.state import shared_store_errors
from bot.keyboards import buttons_to_json
from bot.periodic import PeriodicJob, describe
from storage.db import database_unavailable
from storage.handoffs import Handoffs, HandoffView
from storage.models import utcnow

log = logging.getLogger(__name__)

CHECK_EVERY = 600.0  # seconds between passes


class IdleHandoffs(PeriodicJob):
    name = "handoff-idle"

    def __init__(
        self,
        assistant: Assistant,
        handoffs: Handoffs,
        bot: Bot | None,
        *,
        idle_hours: float,
        staff_lang: str = "ru",
        interval: float = CHECK_EVERY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(interval)
        self.assistant = assistant
        self.handoffs = handoffs
        self.bot = bot
        self.idle = timedelta(hours=idle_hours)
        self.staff_lang = staff_lang
        self.clock = clock
        self.skipped = 0  # hand-offs whose close failed (each tried again next pass)

    async def run_once(self) -> int:
        """One pass; the number of hand-offs closed. One hand-off that cannot
        be closed (a bug, bad data) is logged and skipped, not a reason to
        leave the others open; the database or Redis away ends the pass (the
        next one retries)."""
        closed = 0
        for handoff in await self.handoffs.idle(self.clock() - self.idle):
            try:
                if await self._close(handoff):
                    closed += 1
            except Exception as exc:
                if database_unavailable(exc) or isinstance(exc, shared_store_errors()):
                    raise
                self.skipped += 1
                log.error("hand-off %s: idle close failed (%s)", handoff.id, describe(exc))
        return closed

    async def _close(self, handoff: HandoffView) -> bool:
        t, lang, states = self.assistant.t, handoff.lang, self.assistant.states
        conv = await states.load(handoff.user_id)
        resumed = restore(conv) if conv.flow == NAME else None
        hours = round(self.idle.total_seconds() / 3600)
        notice = closed_notice(t, lang, "ho-closed-idle", resumed, hours=hours)
        buttons = buttons_to_json(notice.buttons)
        if not await self.handoffs.close_idle(handoff, notice.text, buttons):
            return False  # closed by one of the sides meanwhile
        await states.save(handoff.user_id, conv)
        log.info("hand-off %s closed after %s idle", handoff.id, self.idle)
        if self.bot is not None and handoff.staff_chat_id is not None:
            try:
                await self.bot.send_message(
                    handoff.staff_chat_id,
                    t(self.staff_lang, "ho-staff-closed-idle", hours=hours),
                    message_thread_id=handoff.thread_id,
                    reply_to_message_id=None if handoff.thread_id else handoff.header_message_id,
                )
            except TelegramAPIError:
                log.warning("hand-off %s: idle close not announced to staff", handoff.id)
        return True
