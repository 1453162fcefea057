"""/privacy (what is kept about the citizen) and /forget (delete it)."""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import delete
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.i18n import Translator
from bot.languages import RememberedLanguages
from bot.middlewares.citizen import Citizen
from bot.middlewares.db import DbSessionMiddleware
from bot.render import send_text
from storage import booking as booking_store
from storage import handoffs, outbox
from storage.applications import forget_user as forget_applications
from storage.models import User


async def cmd_privacy(message: Message, bot: Bot, translator: Translator, citizen: Citizen) -> None:
    await send_text(bot, message.chat.id, translator(await citizen.lang(), "tg-privacy"))


async def cmd_forget(
    message: Message,
    bot: Bot,
    assistant: Assistant,
    translator: Translator,
    citizen: Citizen,
    session: AsyncSession,
) -> None:
    lang = await citizen.lang()  # before it is deleted
    async with session.begin():
        result = await session.execute(delete(User).where(User.id == citizen.id))
        had_row = cast(CursorResult[Any], result).rowcount > 0
        notifications = await outbox.delete_for_chat(session, message.chat.id)
        applications = await forget_applications(session, citizen.id)
        await handoffs.delete_for_user(session, citizen.id)
        bookings = await booking_store.delete_for_user(session, citizen.id)
    await assistant.states.clear(citizen.id)
    if isinstance(assistant.users, RememberedLanguages):
        assistant.users.forget(citizen.id)

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
