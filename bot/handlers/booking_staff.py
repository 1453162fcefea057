"""/day [office] [date]: the day's bookings per office for the staff, as a
text list and a CSV document.

Only members of the staff chat (STAFF_CHAT_ID) may use it: the command
answers in that chat, and in a private chat with the bot when Telegram says
the sender is a member of it. Anyone else's /day falls through to the
routers after this one (a citizen gets the usual unknown-command answer).
The list shows booking codes, never who booked.

Telegram is asked (getChatMember) once per person per MEMBERSHIP_TTL, the
answer, yes or no, kept that long; and at most LOOKUPS_PER_MINUTE times a
minute in all: past that, a /day in a private chat from someone not known
to be staff falls through unasked (a flood of /day from many accounts
costs Telegram calls no more than that).
"""

from __future__ import annotations

import csv
import io
import logging
import time as clock
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import BufferedInputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.booking.config import BookingRules, Office, Offices
from actions.booking.texts import office_label
from actions.dates import find_date
from actions.i18n import Translator
from bot.render import send_text
from bot.settings import Settings
from knowledge.calendar import Calendar
from storage.booking import Booking, BookingStore

log = logging.getLogger(__name__)

MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
MEMBERSHIP_TTL = 300.0  # seconds a getChatMember answer (member or not) is trusted
LOOKUPS_PER_MINUTE = 20  # getChatMember calls at most, for everyone together
MEMBERS_KEPT = 10_000


class StaffOnly(Filter):
    """The message comes from the staff chat, or privately from one of its members."""

    def __init__(
        self,
        staff_chat_id: int | None,
        *,
        ttl: float = MEMBERSHIP_TTL,
        lookups_per_minute: int = LOOKUPS_PER_MINUTE,
        clock: Callable[[], float] = clock.monotonic,
    ) -> None:
        self.staff_chat_id = staff_chat_id
        self.ttl = ttl
        self.lookups_per_minute = lookups_per_minute
        self.clock = clock
        self._members: dict[int, tuple[float, bool]] = {}
        self._lookups: deque[float] = deque()

    async def __call__(self, message: Message, bot: Bot) -> bool:
        if self.staff_chat_id is None:
            return False
        if message.chat.id == self.staff_chat_id:
            return True
        if message.chat.type != "private" or message.from_user is None:
            return False
        return await self.is_member(bot, message.from_user.id)

    async def is_member(self, bot: Bot, user_id: int) -> bool:
        assert self.staff_chat_id is not None
        now = self.clock()
        cached = self._members.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        while self._lookups and now - self._lookups[0] >= 60.0:
            self._lookups.popleft()
        if len(self._lookups) >= self.lookups_per_minute:
            log.info("/day: membership lookups over their limit, not asked")
            return False
        self._lookups.append(now)
        try:
            member = await bot.get_chat_member(self.staff_chat_id, user_id)
        except TelegramBadRequest:
            ok = False  # "user not found": never been in the chat
        except TelegramAPIError:
            return False  # Telegram unreachable: not staff for now, asked again next time
        else:
            if member.status == "restricted":
                ok = bool(getattr(member, "is_member", False))
            else:
                ok = member.status in MEMBER_STATUSES
        if len(self._members) >= MEMBERS_KEPT:
            self._members = {k: v for k, v in self._members.items() if v[0] > now}
            if len(self._members) >= MEMBERS_KEPT:
                self._members.clear()
        self._members[user_id] = (now + self.ttl, ok)
        return ok


class DayList:
    def __init__(
        self, store: BookingStore, offices: Offices, rules: BookingRules, calendar: Calendar
    ) -> None:
        self.store = store
        self.offices = offices
        self.lang = rules.staff_language
        self.calendar = calendar

    async def cmd_day(
        self, message: Message, command: CommandObject, bot: Bot, translator: Translator
    ) -> None:
        t, lang = translator, self.lang
        chosen, day, problem = self.parse(t, command.args or "")
        if problem is not None or day is None:
            await send_text(bot, message.chat.id, problem or t(lang, "bk-staff-none"))
            return
        start = datetime.combine(day, time(0), tzinfo=self.calendar.tz)
        rows = await self.store.day_list([o.id for o in chosen], start, start + timedelta(days=1))
        await send_text(bot, message.chat.id, self.text(t, chosen, day, rows))
        document = BufferedInputFile(self.csv(day, rows), filename=f"bookings-{day}.csv")
        await bot.send_document(
            message.chat.id, document, caption=t(lang, "bk-staff-csv", date=f"{day:%d.%m.%Y}")
        )

    def parse(self, t: Translator, args: str) -> tuple[list[Office], date | None, str | None]:
        """ "[office or city] [date]" -> (offices, day, None), or (.., .., what is wrong)."""
        lang = self.lang
        today = self.calendar.now().date()
        known = ", ".join(o.id for o in self.offices.all())
        words = args.split()
        chosen = self.offices.all()
        if words:
            first = words[0].lower()
            office, city = self.offices.get(first), self.offices.city(first)
            if office is not None:
                chosen, words = [office], words[1:]
            elif city is not None:
                chosen, words = list(city.offices), words[1:]
            elif not any(ch.isdigit() for ch in first) and find_date(first, today) is None:
                problem = t(lang, "bk-staff-unknown-office", office=words[0])
                return [], None, problem + "\n" + t(lang, "bk-staff-usage", offices=known)
        rest = " ".join(words)
        if not rest:
            return chosen, today, None
        try:
            return chosen, date.fromisoformat(rest), None
        except ValueError:
            pass
        day = find_date(rest, today)
        if day is None:
            problem = t(lang, "bk-staff-bad-date", date=rest)
            return [], None, problem + "\n" + t(lang, "bk-staff-usage", offices=known)
        return chosen, day, None

    def text(self, t: Translator, chosen: list[Office], day: date, rows: list[Booking]) -> str:
        lang, tz = self.lang, self.calendar.tz
        blocks: list[str] = []
        for office in chosen:
            mine = [b for b in rows if b.office_id == office.id]
            if not mine and len(chosen) > 1:
                continue
            lines = [
                t(
                    lang,
                    "bk-staff-title",
                    date=f"{day:%d.%m.%Y}",
                    office=office_label(t, lang, office),
                    office_id=office.id,
                )
            ]
            for b in mine:
                lines.append(
                    t(
                        lang,
                        "bk-staff-line",
                        time=f"{b.starts_at.astimezone(tz):%H:%M}",
                        window=b.window_no,
                        code=b.code,
                        service=t(lang, f"service-{b.service}"),
                    )
                )
            if not mine:
                lines.append(t(lang, "bk-staff-none"))
            blocks.append("\n".join(lines))
        if not blocks:
            blocks.append(f"{day:%d.%m.%Y}: " + t(lang, "bk-staff-none"))
        blocks.append(t(lang, "bk-staff-total", count=len(rows)))
        return "\n\n".join(blocks)

    def csv(self, day: date, rows: list[Booking]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["date", "time", "office_id", "office", "window", "code", "service"])
        for b in rows:
            office = self.offices.get(b.office_id)
            writer.writerow(
                [
                    f"{day:%Y-%m-%d}",
                    f"{b.starts_at.astimezone(self.calendar.tz):%H:%M}",
                    b.office_id,
                    office.name[self.lang] if office else "",
                    b.window_no,
                    b.code,
                    b.service,
                ]
            )
        # A BOM so that spreadsheet programs read the Cyrillic as UTF-8.
        return out.getvalue().encode("utf-8-sig")


def make_router(
    sessions: async_sessionmaker[AsyncSession],
    staff_chat_id: int | None = None,
    *,
    offices: Offices | None = None,
    rules: BookingRules | None = None,
    calendar: Calendar | None = None,
) -> Router:
    """`staff_chat_id`: STAFF_CHAT_ID of the settings when not given."""
    if staff_chat_id is None:
        staff_chat_id = Settings().staff_chat_id
    desk = DayList(
        BookingStore(sessions),
        offices or Offices.load(),
        rules or BookingRules.load(),
        calendar or Calendar.load(),
    )
    router = Router(name="booking_staff")
    router.message.register(desk.cmd_day, Command("day"), StaffOnly(staff_chat_id))
    return router
