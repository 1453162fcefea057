"""/privacy (what is kept about the citizen, and for how long: the
retention settings) and /forget (delete it, the citizen's topic in the
staff chat included)."""

from __future__ import annotations

import logging
from typing import Any, cast

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import delete
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.i18n import Translator
from bot.handlers.staff_relay import desk_of
from bot.languages import RememberedLanguages
from bot.middlewares.citizen import Citizen
from bot.middlewares.db import DbSessionMiddleware
from bot.render import send_text
from bot.retention import retention_periods
from storage import booking as booking_store
from storage import handoffs, outbox
from storage.applications import forget_user as forget_applications
from storage.handoffs import StaffTraces
from storage.models import User
from storage.retention import RetentionPeriods

log = logging.getLogger(__name__)


def privacy_text(translator: Translator, lang: str, periods: RetentionPeriods | None = None) -> str:
    """The /privacy answer, with the configured retention periods."""
    p = periods or retention_periods()
    return translator(
        lang,
        "tg-privacy-kept",
        application_days=p.days,
        open_application_days=p.open_days,
        handoff_days=p.handoff_days,
        outbox_days=p.outbox_days,
        booking_days=p.booking_days,
        user_days=p.user_days,
    )


async def cmd_privacy(message: Message, bot: Bot, translator: Translator, citizen: Citizen) -> None:
    await send_text(bot, message.chat.id, privacy_text(translator, await citizen.lang()))


async def cmd_forget(
    message: Message,
    bot: Bot,
    assistant: Assistant,
    translator: Translator,
    citizen: Citizen,
    session: AsyncSession,
) -> None:
    lang = await citizen.lang()  # before it is deleted
    desk = desk_of(assistant)
    traces: StaffTraces | None = None
    async with session.begin():
        if desk is not None:
            traces = await handoffs.staff_traces(session, citizen.id, desk.chat_id)
        result = await session.execute(delete(User).where(User.id == citizen.id))
        had_row = cast(CursorResult[Any], result).rowcount > 0
        notifications = await outbox.delete_for_chat(session, message.chat.id)
        applications = await forget_applications(session, citizen.id)
        await handoffs.delete_for_user(session, citizen.id)
        bookings = await booking_store.delete_for_user(session, citizen.id)
    await assistant.states.clear(citizen.id)
    if isinstance(assistant.users, RememberedLanguages):
        assistant.users.forget(citizen.id)
    if desk is not None and traces:
        try:
            await desk.forget_citizen(traces)
        except Exception:  # the citizen's data is gone; the staff chat is best effort
            log.warning("/forget: the staff chat was not cleaned up", exc_info=True)

    lines = [translator(lang, "tg-forget-done")]
    if had_row:
        lines.append(translator(lang, "tg-forget-profile"))
    lines.append(translator(lang, "tg-forget-conversation"))
    if notifications:
        lines.append(translator(lang, "tg-forget-notifications", count=notifications))
    if bookings:
        lines.append(translator(lang, "tg-forget-bookings", count=bookings))
    if applications:
        lines.append(translator(lang, "tg-forget-applications", count=applications))
    lines.append(translator(lang, "tg-forget-after"))
    await send_text(bot, message.chat.id, "\n".join(lines))


def make_router(sessions: async_sessionmaker[AsyncSession]) -> Router:
    router = Router(name="privacy")
    router.message.middleware(DbSessionMiddleware(sessions))
    router.message.register(cmd_privacy, Command("privacy"))
    router.message.register(cmd_forget, Command("forget"))
    return router
