"""Until bot/render.py sends `Reply.document`: send an outcome's replies,
the ones carrying a file as documents (what the front end will do)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BufferedInputFile

from actions.events import Outcome
from bot.render import send_reply


async def send_outcome_with_documents(bot: Bot, chat_id: int, outcome: Outcome) -> None:
    for reply in outcome.replies:
        if reply.document is not None:
            name, data = reply.document
            await bot.send_document(
                chat_id, BufferedInputFile(data, filename=name), caption=reply.text[:1024]
            )
        else:
            await send_reply(bot, chat_id, reply)
