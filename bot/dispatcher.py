"""The Dispatcher: routers, middlewares, and what handlers receive.

Shared objects go in once as Dispatcher keyword arguments (aiogram's
dependency injection): `assistant`, `translator`, `claims`, `bursts`. Per-update
objects come from middlewares: `citizen` for every update, `session` for
the privacy handlers.

Update pipeline (outer middlewares on `dp.update`, in this order):
  aiogram's user context -> latest message per chat (bot/bursts.py: noted
  before the lock, which the message before may hold) -> per-user ordering
  lock -> update de-duplication -> citizen; then, for private chats only,
  the flood guard (inner).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.i18n import LANGS, Translator
from bot.bursts import BurstPolicy, Bursts, Latest, latest_beside
from bot.dedupe import Claims, MemoryClaims
from bot.handlers import (
    applications_staff,
    booking_staff,
    dialogue,
    errors,
    privacy,
    shortcuts,
    staff_relay,
    start,
    unsupported,
)
from bot.middlewares.bursts import LatestMessageMiddleware
from bot.middlewares.citizen import CitizenMiddleware
from bot.middlewares.dedupe import UpdateDedupeMiddleware
from bot.middlewares.flood import FloodMiddleware
from bot.middlewares.ordering import InFlight, UserLocks, UserOrderMiddleware
from bot.ratelimit import Buckets, FloodGuard, FloodPolicy, MemoryBuckets

log = logging.getLogger(__name__)

# The command menu, in the order Telegram shows it; descriptions are
# `tg-cmd-<name>` in locales/*/bot.ftl.
COMMANDS = ("start", "help", "lang", "book", "status", "operator", "cancel", "privacy", "forget")
# Only what a citizen does; Telegram also delivers its own service updates.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


@dataclass
class Shared:
    """What the pipeline shares between updates (and, in Redis, between workers)."""

    claims: Claims = field(default_factory=MemoryClaims)
    buckets: Buckets = field(default_factory=MemoryBuckets)
    locks: UserLocks = field(default_factory=UserLocks)
    in_flight: InFlight = field(default_factory=InFlight)
    flood: FloodPolicy = field(default_factory=FloodPolicy)
    burst: BurstPolicy = field(default_factory=BurstPolicy)
    # The latest message per chat; None: beside the claims (Redis when they are).
    latest: Latest | None = None

    def __post_init__(self) -> None:
        if self.latest is None:
            self.latest = latest_beside(self.claims)


def citizens_router(
    sessions: async_sessionmaker[AsyncSession], guard: FloodGuard, translator: Translator
) -> Router:
    """Everything citizens do in a private chat with the bot."""
    private = Router(name="private")
    private.message.filter(F.chat.type == "private")
    private.edited_message.filter(F.chat.type == "private")
    private.callback_query.filter(F.message.chat.type == "private")
    flood = FloodMiddleware(guard, translator)
    for observer in (private.message, private.edited_message, private.callback_query):
        observer.middleware(flood)
    # Order matters: commands before free text, free text before the catch-all.
    private.include_routers(
        start.make_router(),
        shortcuts.make_router(),
        privacy.make_router(sessions),
        dialogue.make_router(),
        unsupported.make_router(),
    )
    return private


def build_dispatcher(
    assistant: Assistant,
    sessions: async_sessionmaker[AsyncSession],
    shared: Shared | None = None,
) -> Dispatcher:
    shared = shared or Shared()
    translator = assistant.t
    if shared.latest is None:
        shared.latest = latest_beside(shared.claims)
    latest = shared.latest
    bursts = Bursts(latest, shared.burst)
    dp = Dispatcher(assistant=assistant, translator=translator, claims=shared.claims, bursts=bursts)
    # Before the ordering lock: a message is noted while the one before it is handled.
    dp.update.outer_middleware(LatestMessageMiddleware(latest))
    dp.update.outer_middleware(UserOrderMiddleware(shared.locks, shared.in_flight))
    dp.update.outer_middleware(UpdateDedupeMiddleware(shared.claims))
    dp.update.outer_middleware(CitizenMiddleware(assistant))
    guard = FloodGuard(shared.buckets, shared.claims, shared.flood)
    # /day: before the citizens' catch-all and the staff relay, which take every message.
    dp.include_router(booking_staff.make_router(sessions))
    dp.include_router(applications_staff.make_router(sessions))
    dp.include_routers(errors.make_router(), citizens_router(sessions, guard, translator))
    dp.include_router(staff_relay.make_router(assistant))
    return dp


def commands(translator: Translator, lang: str | None) -> list[BotCommand]:
    """The command menu in `lang`; both languages (Kazakh first) when None."""

    def describe(name: str) -> str:
        key = f"tg-cmd-{name}"
        if lang is not None:
            return translator(lang, key)
        return " / ".join(translator(code, key) for code in LANGS)

    return [BotCommand(command=name, description=describe(name)[:256]) for name in COMMANDS]


async def set_bot_commands(bot: Bot, translator: Translator) -> None:
    """Register the command menu for Kazakh and Russian apps, and a bilingual default."""
    scope = BotCommandScopeAllPrivateChats()
    for lang in (*LANGS, None):
        await bot.set_my_commands(commands(translator, lang), scope=scope, language_code=lang)
