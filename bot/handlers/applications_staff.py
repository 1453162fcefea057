"""Staff commands on applications, in the staff chat (STAFF_CHAT_ID) only:

  /app NUMBER                             the application card
  /apps [STATUS]                          open applications, or those in STATUS
  /setstatus NUMBER STATUS [place|reason] move it on; the citizen is notified

Everywhere else these commands do not exist: the router's filters are on
the chat and on the author being a member of it now, so a citizen typing
/setstatus in a private chat reaches the ordinary dialogue (an unknown
command) and nothing here, and a removed agent can no longer use them.
"""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import ChatMemberRestricted, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.i18n import Translator
from bot.render import send_text
from storage.applications import (
    STATUSES,
    ApplicationNotFound,
    Applications,
    InvalidTransition,
)

log = logging.getLogger(__name__)

LIST_MAX = 30
MEMBERSHIP_TTL = 60.0  # seconds a membership answer is trusted
_MEMBER_STATUSES = frozenset(
    {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
)


class StaffCommands:
    def __init__(self, applications: Applications) -> None:
        self.applications = applications
        self.lang = applications.staff_lang

    async def cmd_app(
        self, message: Message, command: CommandObject, bot: Bot, translator: Translator
    ) -> None:
        number = (command.args or "").strip().split(" ")[0]
        if not number:
            await send_text(bot, message.chat.id, translator(self.lang, "staff-app-usage"))
            return
        app = await self.applications.get(number)
        if app is None:
            text = translator(self.lang, "staff-app-not-found", number=number.upper()[:40])
        else:
            text = self.applications.staff_summary(app)
        await send_text(bot, message.chat.id, text)

    async def cmd_apps(
        self, message: Message, command: CommandObject, bot: Bot, translator: Translator
    ) -> None:
        t, lang = translator, self.lang
        wanted = (command.args or "").strip().lower() or None
        if wanted is not None and wanted not in STATUSES:
            text = t(lang, "staff-app-err-unknown-status", target=wanted[:40])
            await send_text(bot, message.chat.id, text)
            return
        if wanted is None:
            apps = [a for a in await self.applications.list(limit=500) if a.is_open][:LIST_MAX]
            title = t(lang, "staff-app-list-open")
        else:
            apps = list(await self.applications.list(wanted, limit=LIST_MAX))
            title = wanted
        if not apps:
            await send_text(bot, message.chat.id, t(lang, "staff-app-list-empty"))
            return
        lines = [t(lang, "staff-app-list-title", status=title)]
        lines += [
            t(
                lang,
                "staff-app-list-line",
                number=a.number,
                # The word, and the code /setstatus takes.
                status=f"{t(lang, f'intake-status-{a.status}')} ({a.status})",
                due=a.due_date.strftime("%d.%m.%Y"),
                channel=t(lang, f"channel-{a.channel}"),
            )
            for a in apps
        ]
        await send_text(bot, message.chat.id, "\n".join(lines))

    async def cmd_setstatus(
        self, message: Message, command: CommandObject, bot: Bot, translator: Translator
    ) -> None:
        t, lang = translator, self.lang
        parts = (command.args or "").strip().split(maxsplit=2)
        if len(parts) < 2:
            await send_text(bot, message.chat.id, t(lang, "staff-app-usage"))
            return
        number, status = parts[0].upper()[:40], parts[1].lower()[:40]
        detail = parts[2] if len(parts) > 2 else None
        who = message.from_user.id if message.from_user else message.chat.id
        before = await self.applications.get(number)
        try:
            if before is None:
                raise ApplicationNotFound(number)
            app = await self.applications.change_status(
                number,
                status,
                place=detail if status == "ready" else None,
                reason=detail if status == "rejected" else None,
                actor=f"staff:{who}",
            )
        except ApplicationNotFound:
            text = t(lang, "staff-app-not-found", number=number)
        except InvalidTransition as refused:
            allowed = ", ".join(refused.allowed) or t(lang, "staff-app-allowed-none")
            text = t(
                lang,
                f"staff-app-err-{refused.code}",
                number=number,
                current=refused.current or "",
                target=refused.target or status,
                allowed=allowed,
            )
        else:
            assert before is not None
            key = "staff-app-changed" if app.user_id is not None else "staff-app-changed-silent"
            text = t(lang, key, number=app.number, old=before.status, new=app.status)
        await send_text(bot, message.chat.id, text)


class StaffMember(Filter):
    """The author is a member of the staff chat right now (getChatMember,
    cached a minute), or the chat itself (an anonymous administrator)."""

    def __init__(self, chat_id: int, ttl: float = MEMBERSHIP_TTL) -> None:
        self.chat_id = chat_id
        self.ttl = ttl
        self._members: dict[int, tuple[float, bool]] = {}

    async def __call__(self, message: Message, bot: Bot) -> bool:
        if message.chat.id != self.chat_id:
            return False
        if message.sender_chat is not None:
            return message.sender_chat.id == self.chat_id
        user = message.from_user
        if user is None or user.is_bot:
            return False
        now = time.monotonic()
        cached = self._members.get(user.id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await bot.get_chat_member(self.chat_id, user.id)
        except TelegramBadRequest:
            ok = False  # never been in the chat
        else:
            ok = member.status in _MEMBER_STATUSES or (
                isinstance(member, ChatMemberRestricted) and member.is_member
            )
        if len(self._members) > 10_000:
            self._members.clear()
        self._members[user.id] = (now + self.ttl, ok)
        if not ok:
            log.info("staff chat: application command by a non-member ignored")
        return ok


def make_router(
    sessions: async_sessionmaker[AsyncSession],
    staff_chat_id: int | None = None,
    applications: Applications | None = None,
) -> Router:
    """The staff router. `staff_chat_id` defaults to STAFF_CHAT_ID from the
    settings; with none configured the router has no handlers. Include it
    before a router that takes every message of the staff chat."""
    if staff_chat_id is None:
        from bot.settings import Settings

        staff_chat_id = Settings().staff_chat_id
    router = Router(name="applications_staff")
    if staff_chat_id is None:
        log.info("STAFF_CHAT_ID not set: staff application commands are off")
        return router
    router.message.filter(F.chat.id == staff_chat_id, StaffMember(staff_chat_id))
    commands = StaffCommands(applications or Applications(sessions, staff_chat_id=staff_chat_id))
    router.message.register(commands.cmd_app, Command("app"))
    router.message.register(commands.cmd_apps, Command("apps"))
    router.message.register(commands.cmd_setstatus, Command("setstatus"))
    return router
