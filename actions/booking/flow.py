"""Booking a slot in the electronic queue: the dialogue (channel-agnostic).

service -> city -> office -> day -> time -> confirm -> ticket; each step is
skipped when the citizen's message already answered it ("ертең ЦОН-ға
жазылғым келеді", "запишите меня на пятницу после обеда"). Also the
citizen's bookings, cancelling and rescheduling.

Nothing is written before "confirm": the choices so far live in the
conversation state (`flow_data`), and the booking itself is one database
transaction (storage/booking.py), which also decides every race.

Button payloads ("bk:<verb>:<arg>", all well under Telegram's 64 bytes):
  s:<service> c:<city> o:<office> d:<YYYYMMDD> t:<HHMM> tp:<page>
  pt:<morning|afternoon|any> ok:<nonce> back x new my
  cn:<code> (ask to cancel) cy:<code> (cancel) rs:<code> (reschedule)
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from actions.booking.config import KINDS, BookingRules, Office, Offices
from actions.booking.slots import (
    DayProblem,
    bookable_slots,
    candidate_days,
    day_problem,
    free_slots,
    slot_at,
)
from actions.booking.texts import (
    booking_line,
    date_text,
    day_label,
    office_label,
    offsets_text,
    when_text,
)
from actions.dates import find_date, find_time, resolve_hour
from actions.events import Button, Outcome, Reply
from actions.flows import FlowContext
from knowledge.base import Entry
from nlu.entities import lexicon
from nlu.normalize import clean, fold
from nlu.pipeline import FALLBACK_INTENT, NLU
from storage.booking import AlreadyBooked, Booking, BookingStore, NotFound, SlotFull
from storage.db import database_unavailable

log = logging.getLogger(__name__)

NAME = "bk"
SERVICES = ("duplicate", "grant", "social_support")
_SERVICE_BUTTONS = {
    "duplicate": "btn-duplicate",
    "grant": "btn-grant",
    "social_support": "btn-social",
}
PARTS = ("morning", "afternoon")
# A bare number typed instead of pressing: an option, a day of the month, an hour.
_NUMBER_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
# The assistant's confidence threshold: below it a text is not understood.
UNDERSTOOD = 0.45
# Seven digits or more that are not a date: an IIN, a phone number, a document number.
_PERSONAL_MIN_DIGITS = 7
# An option named by its place in the list: "первый", "вторую", "бірінші", "№2", "2-й".
_ORDINAL_WORDS: tuple[tuple[str, int], ...] = (
    (r"перв\w*", 1),
    (r"втор(?!ник)\w*", 2),
    (r"трет\w*", 3),
    (r"четв[её]рт\w*", 4),
    (r"пят(?:ый|ая|ое|ую|ого|ом)", 5),
    (r"шест\w*", 6),
    (r"биринши\w*", 1),
    (r"екинши\w*", 2),
    (r"ушинши\w*", 3),
    (r"тортинши\w*", 4),
    (r"бесинши\w*", 5),
    (r"алтынши\w*", 6),
)
_ORDINAL_NUMBER_RE = re.compile(
    r"(?:№|номер|вариант)\s*(\d{1,2})\b|\b(\d{1,2})\s*-?\s*(?:й|я|е|ое|ый|ой|ая|ую|ши|шы|инши|ынши)\b"
)
# Words that make a message a question (folded), not an answer to ours.
_QUESTION_WORDS = frozenset(
    {
        *("сколько", "как", "какой", "какая", "какие", "какое", "где", "когда", "что"),
        *("почему", "зачем", "ли", "разве", "кто", "чем"),
        *("канша", "калаи", "каида", "кашан", "кандаи", "неге", "нелик", "кимге"),
        *("ма", "ме", "ба", "бе", "па", "пе"),
    }
)
# Said at the confirmation: not a yes ("нет", "не подтверждаю", "жоқ", "керек емес").
_DENY_RE = re.compile(r"(?<!\w)(?:нет|не|неа|жок|емес|отказ\w*)(?!\w)")
# More ways of saying yes at the confirmation than data/booking.yml lists.
_MORE_YES = (
    "окей",
    "хорошо",
    "давай",
    "конечно",
    "согласен",
    "согласна",
    "записывай",
    "жараиды",
    "болады",
    "арине",
    "келисемин",
    "ок",
)


@dataclass
class Draft:
    """A booking being put together (the flow's data between messages)."""

    step: str = "service"
    service: str | None = None
    channel: str | None = None  # provider | psc: narrows the offices
    city: str | None = None
    office: str | None = None
    day: str | None = None  # ISO date
    time: str | None = None  # HHMM
    part: str | None = None  # morning | afternoon
    want_day: str | None = None  # typed, checked when the office is known
    want_time: str | None = None  # typed HHMM
    page: int = 0
    nonce: str | None = None  # of the confirmation shown
    resched: str | None = None  # code of the booking being moved
    touched: float = 0.0

    @classmethod
    def of(cls, data: dict[str, Any]) -> Draft:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def clear_from(self, step: str) -> None:
        """Forget the answers of `step` and of the steps after it."""
        order = ("service", "city", "office", "day", "time")
        for name in order[order.index(step) :]:
            setattr(self, name, None)
        if step in ("service", "city", "office"):
            self.want_time = None
        self.page = 0
        self.nonce = None


class BookingFlow:
    name = NAME
    intents = frozenset({"book_queue", "cancel_booking", "my_bookings"})

    def __init__(
        self,
        store: BookingStore,
        offices: Offices | None = None,
        rules: BookingRules | None = None,
        nlu: NLU | None = None,
    ) -> None:
        self.store = store
        self.offices = offices or Offices.load()
        self.rules = rules or BookingRules.load()
        # Tells a question or a request for something else (the assistant's)
        # from an answer this flow cannot read (asked again).
        self.nlu = nlu

    def claims(self, text: str, intent: str | None = None) -> bool:
        """Words only a booking request has: moving one ("перенести запись",
        "жазылуды ауыстыру"); asking of or cancelling one's booking with the
        booking named ("по какому адресу моя запись")."""
        folded = fold(text)
        if self.rules.said("reschedule", folded):
            return True
        return intent in ("my_bookings", "cancel_booking") and self.rules.said("booking", folded)

    # -- the Flow protocol ----------------------------------------------------------
    async def on_intent(self, ctx: FlowContext, intent: str) -> Outcome:
        parsed = ctx.parsed
        text = parsed.text if parsed is not None else ""
        # "жазылуды ауыстырғым келеді" may come as any booking intent (the
        # model reads "cancel" in it): the words settle it before the intent.
        if text and self.rules.said("reschedule", fold(text)):
            return await self._reschedule_which(ctx)
        if intent == "my_bookings":
            return await self._my_bookings(ctx)
        if intent == "cancel_booking":
            if self._draft(ctx) is not None:
                return await self._stop(ctx, bookings=True)
            return await self._cancel_which(ctx)
        # Typed while a booking is in progress: add to it. A button or
        # command starts afresh.
        draft = (self._draft(ctx) if parsed is not None else None) or Draft()
        if parsed is not None:
            service = parsed.entity("service")
            if service in SERVICES and service != draft.service:
                draft.clear_from("service")
                draft.service = service
            channel = parsed.entity("channel")
            if channel in KINDS:
                self._set_channel(draft, channel)
            self._absorb(ctx, draft, text)
        if draft.service is None and ctx.conv.last_service in SERVICES:
            # The conversation's service, bookable or not: "вузға кезекке
            # жазып қойыңыз" after grant questions is the grant's live queue,
            # not a duplicate's booking at the university.
            draft.service = ctx.conv.last_service
        if draft.service is None and draft.channel is not None:
            # ЦОН serves duplicates only: the kind of office can settle the service.
            offered = {
                s for o in self.offices.all() if o.kind == draft.channel for s in o.services
            } & self.rules.bookable
            if len(offered) == 1:
                draft.service = next(iter(offered))
        return await self._advance(ctx, draft)

    async def on_button(self, ctx: FlowContext, payload: str) -> Outcome:
        _, _, rest = payload.partition(":")
        verb, _, arg = rest.partition(":")
        if verb == "my":
            return await self._my_bookings(ctx)
        if verb == "cn":
            return await self._ask_cancel(ctx, arg)
        if verb == "cy":
            return await self._cancel(ctx, arg)
        if verb == "rs":
            return await self._reschedule(ctx, arg)
        if verb == "x":
            return await self._stop(ctx)
        draft = self._draft(ctx)
        if verb == "ok":
            return await self._confirm(ctx, draft, arg)
        if verb == "new":
            ctx.finish()
            draft = Draft()
            if ctx.conv.last_service in self.rules.bookable:
                draft.service = ctx.conv.last_service
            return await self._advance(ctx, draft)
        if verb == "s" and arg in SERVICES:
            draft = draft or Draft()
            draft.clear_from("service")
            draft.service = arg
            return await self._advance(ctx, draft)
        if verb == "c" and self.offices.city(arg) is not None:
            draft = draft or Draft(service=self._only_bookable())
            draft.clear_from("city")
            draft.city = arg
            return await self._advance(ctx, draft)
        if verb == "o" and (office := self.offices.get(arg)) is not None and office.active:
            draft = draft or Draft()
            draft.clear_from("office")
            draft.city, draft.office = office.city, office.id
            if draft.service is None or draft.service not in office.services:
                draft.service = self._only_bookable(office.services)
            return await self._advance(ctx, draft)
        if draft is None:
            # A keyboard from a booking that is over (done, cancelled, forgotten).
            return await self._advance(ctx, Draft(), note=ctx.t(ctx.lang, "bk-stale"))
        if verb == "d":
            try:
                wanted = datetime.strptime(arg, "%Y%m%d").date()  # noqa: DTZ007 - a date only
            except ValueError:
                return await self._advance(ctx, draft)
            draft.clear_from("day")
            draft.want_day = wanted.isoformat()
            return await self._advance(ctx, draft)
        if verb == "t":
            draft.time, draft.want_time, draft.nonce = None, arg[:4], None
            return await self._advance(ctx, draft)
        if verb == "tp" and arg.isascii() and arg.isdigit() and len(arg) <= 4:
            draft.page = int(arg)
            draft.time = None
            return await self._advance(ctx, draft)
        if verb == "pt":
            self._set_part(draft, arg if arg in PARTS else None)
            return await self._advance(ctx, draft)
        if verb == "back":
            return await self._back(ctx, draft)
        return await self._advance(ctx, draft)

    async def on_text(self, ctx: FlowContext, text: str) -> Outcome | None:
        draft = self._draft(ctx)
        if draft is None:
            if ctx.conv.flow == NAME:
                ctx.finish()  # left idle too long: the assistant has the text
            return None
        folded = fold(text)
        if not folded:
            return None
        t, lang = ctx.t, ctx.lang
        short = len(folded.split()) <= 4  # "отмена", "не надо", "артқа" (not "не надо утром, ...")
        cancel = self.rules.said("cancel", folded)
        if short and cancel:
            # "жазылымды болдырмай тастаңызшы": the booking already made too.
            return await self._stop(ctx, bookings=self.rules.said("booking", folded))
        if cancel and await self._understood_as(text, "cancel_booking"):
            # "стоп, у меня уже бронь на среду, её отмените": the assistant
            # reads it (its language too) and hands it back to `on_intent`;
            # its day is not this draft's.
            return None
        if short and self.rules.said("back", folded):
            return await self._back(ctx, draft)
        question = _is_question(text, folded)
        if draft.step == "confirm" and not question:
            today = ctx.clock().astimezone(ctx.calendar.tz).date()
            changed = find_date(text, today) or find_time(text, loose=True)
            if not changed and _DENY_RE.search(folded):
                # "нет", "жоқ": not this time; the times of the day again.
                draft.time, draft.nonce = None, None
                return await self._advance(ctx, draft)
            if not changed and (self.rules.said("confirm", folded) or _said_any(_MORE_YES, folded)):
                return await self._confirm(ctx, draft, draft.nonce or "")
        if self.rules.said("pass_through", folded) and len(folded.split()) <= 3:
            return None
        number = _NUMBER_RE.match(text)
        if number:
            return await self._typed_number(ctx, draft, int(number.group(1)))
        if not question:
            # An answer to the question asked, typed: "первый", "ЦОН №2",
            # "дубликат", "в 10 утра", "сағат 11-де", "в пятницу".
            picked = await self._typed_choice(ctx, draft, text, folded)
            if picked is not None:
                return picked
        today = ctx.clock().astimezone(ctx.calendar.tz).date()
        digits = sum(ch.isdigit() for ch in text)
        if (
            digits >= _PERSONAL_MIN_DIGITS
            and find_date(text, today) is None
            and find_time(text) is None
        ):
            return await self._advance(ctx, draft, note=t(lang, "bk-no-personal"))
        # A sentence or a question is first offered to the assistant ("график
        # работы ЦОН"); a word or two is first read as an answer ("ЦОН", "ертең").
        sentence = "?" in text or len(folded.split()) >= 3
        if sentence and await self._for_the_assistant(text):
            return None  # the assistant answers; the booking waits
        if self._absorb(ctx, draft, text):
            return await self._advance(ctx, draft)
        if not sentence and await self._for_the_assistant(text):
            return None
        return await self._advance(ctx, draft, note=t(lang, _use_buttons(draft.step)))

    async def _understood_as(self, text: str, intent: str) -> bool:
        if self.nlu is None:
            return False
        parsed = await self.nlu.parse(text)
        return parsed.intent == intent and parsed.confidence >= UNDERSTOOD

    async def _for_the_assistant(self, text: str) -> bool:
        """A question or a request the assistant understands, rather than an
        answer to this flow's question. (The booking intents count too: the
        assistant hands them back to `on_intent`, which adds them to the draft.)"""
        if self.nlu is None:
            return "?" in text or len(text.split()) > 3
        parsed = await self.nlu.parse(text)
        return parsed.intent not in (FALLBACK_INTENT, "out_of_scope") and (
            parsed.confidence >= UNDERSTOOD
        )

    # -- the draft ------------------------------------------------------------------
    def _draft(self, ctx: FlowContext) -> Draft | None:
        if ctx.conv.flow != NAME:
            return None
        draft = Draft.of(ctx.conv.flow_data)
        idle = ctx.clock().timestamp() - draft.touched
        if idle > self.rules.draft_idle.total_seconds():
            return None
        return draft

    def _save(self, ctx: FlowContext, draft: Draft, step: str) -> None:
        draft.step = step
        draft.touched = ctx.clock().timestamp()
        ctx.start(NAME, asdict(draft))

    def _only_bookable(self, services: tuple[str, ...] | None = None) -> str | None:
        pool = set(services) if services is not None else set(self.rules.bookable)
        offered = sorted(pool & self.rules.bookable)
        return offered[0] if len(offered) == 1 else None

    def _set_channel(self, draft: Draft, channel: str) -> None:
        draft.channel = channel
        office = self.offices.get(draft.office) if draft.office else None
        if office is not None and office.kind != channel:
            draft.clear_from("office")

    def _set_part(self, draft: Draft, part: str | None) -> None:
        draft.part = part
        draft.time, draft.page, draft.nonce = None, 0, None

    def _absorb(self, ctx: FlowContext, draft: Draft, text: str) -> bool:
        """Take what a typed message says (city, kind of office, day, time,
        part of the day) into the draft; True when it said anything."""
        folded = fold(text)
        said = False
        named = [f.value for f in lexicon(text) if f.entity == "service" and f.value in SERVICES]
        if named:
            # "дубликат" typed at the city: the service already chosen, said
            # again (no "не понял"); another service starts the draft over.
            if named[0] != draft.service:
                draft.clear_from("service")
                draft.service = named[0]
            said = True
        city = self.offices.city_in_text(folded)
        if city is not None:
            if city.id != draft.city:
                draft.clear_from("city")
                draft.city = city.id
            said = True
        for kind in KINDS:
            if self.rules.said(kind, folded):
                self._set_channel(draft, kind)
                said = True
        today = ctx.clock().astimezone(ctx.calendar.tz).date()
        wanted = find_date(text, today)
        if wanted is not None:
            draft.day, draft.time, draft.nonce, draft.page = None, None, None, 0
            draft.want_day = wanted.isoformat()
            said = True
        at = find_time(text, loose=draft.step in ("day", "time", "confirm"))
        if at is not None:
            hour, minute, hint = at
            draft.time, draft.nonce = None, None
            draft.want_time = f"{resolve_hour(hour, hint):02d}{minute:02d}"
            said = True
        if self.rules.said("afternoon", folded):
            self._set_part(draft, "afternoon")
            said = True
        elif self.rules.said("morning", folded):
            self._set_part(draft, "morning")
            said = True
        elif self.rules.said("any_time", folded):
            self._set_part(draft, None)
            said = True
        return said

    # -- moving through the steps -------------------------------------------------------
    async def _advance(self, ctx: FlowContext, draft: Draft, note: str | None = None) -> Outcome:
        """Ask for the first thing the draft still lacks (or confirm it)."""
        notes = [note] if note else []
        now = ctx.clock()
        if draft.service is None:
            return self._ask_service(ctx, draft, notes)
        if draft.service not in self.rules.bookable:
            ctx.finish()
            return self._live_queue(ctx, draft.service, notes)
        if draft.resched is None:
            mine = await self.store.upcoming(ctx.user_id, now, draft.service)
            if mine:
                ctx.finish()
                return self._already(ctx, mine[0], notes)
        city = self.offices.city(draft.city) if draft.city else None
        if city is None:
            return self._ask_city(ctx, draft, notes)
        office = self.offices.get(draft.office) if draft.office else None
        if office is None or not office.active or draft.service not in office.services:
            options = self._office_options(draft)
            if draft.channel and len(options) == 1:
                office = options[0]
                draft.office = office.id
            else:
                return self._ask_office(ctx, draft, options, notes)
        tz = ctx.calendar.tz
        if draft.want_day:
            wanted = date.fromisoformat(draft.want_day)
            draft.want_day, draft.day = None, None
            problem = await self._why_not(ctx, office.id, wanted, draft.part)
            if problem is None:
                draft.day = wanted.isoformat()
            else:
                notes.append(problem)
        if draft.day is None:
            return await self._ask_day(ctx, draft, notes)
        day = date.fromisoformat(draft.day)
        free = await self._free(ctx, office.id, day, draft.part)
        if not free:
            notes.append(self._day_text(ctx, day, "full", draft.part))
            draft.day = None
            return await self._ask_day(ctx, draft, notes)
        nearest: list[datetime] = []
        if draft.want_time:
            want = draft.want_time
            slot = slot_at(free, want)
            if slot is None and draft.part:
                # A time typed outside the part of the day chosen before wins.
                every = await self._free(ctx, office.id, day, None)
                if slot_at(every, want) is not None:
                    self._set_part(draft, None)
                    free, slot = every, slot_at(every, want)
            if slot is None:
                shown = f"{want[:2]}:{want[2:]}"
                notes.append(ctx.t(ctx.lang, "bk-time-not-free", time=shown))
                nearest = _nearest(free, want)
            else:
                draft.time = want
                draft.page = 0
            draft.want_time = None
        if draft.time is None or slot_at(free, draft.time) is None:
            draft.time = None
            return self._ask_time(ctx, draft, day, free, notes, nearest)
        slot = slot_at(free, draft.time)
        assert slot is not None
        return self._ask_confirm(ctx, draft, slot.astimezone(tz), notes)

    async def _back(self, ctx: FlowContext, draft: Draft) -> Outcome:
        step = draft.step
        if draft.resched and step == "day":
            return await self._my_bookings(ctx)
        if step == "confirm":
            draft.time, draft.nonce = None, None
        elif step == "time":
            draft.clear_from("day")
        elif step == "day":
            draft.clear_from("office")
            draft.channel = None
        elif step == "office":
            draft.clear_from("city")
            draft.channel = None
        elif step == "city":
            draft.clear_from("service")
        else:
            return await self._stop(ctx)
        return await self._advance(ctx, draft)

    async def _typed_number(self, ctx: FlowContext, draft: Draft, n: int) -> Outcome:
        """A number typed where a button was expected."""
        t, lang = ctx.t, ctx.lang
        step = draft.step
        if step == "service" and 1 <= n <= len(SERVICES):
            draft.service = SERVICES[n - 1]
        elif step == "city" and 1 <= n <= len(self.offices.cities):
            draft.city = self.offices.cities[n - 1].id
        elif step == "office" and 1 <= n <= len(options := self._office_options(draft)):
            draft.office = options[n - 1].id
        elif step == "day" and 1 <= n <= 31:
            today = ctx.clock().astimezone(ctx.calendar.tz).date()
            draft.want_day = _next_day_of_month(today, n).isoformat()
        elif step == "time" and 0 <= n <= 23 and draft.day and draft.office:
            n = resolve_hour(n, None)  # "3" at an office: 15:00
            free = await self._free(ctx, draft.office, date.fromisoformat(draft.day), draft.part)
            first = next((s for s in free if s.hour == n), None)
            draft.want_time = f"{n:02d}00" if first is None else f"{first:%H%M}"
        else:
            return await self._advance(ctx, draft, note=t(lang, _use_buttons(draft.step)))
        return await self._advance(ctx, draft)

    async def _typed_choice(
        self, ctx: FlowContext, draft: Draft, text: str, folded: str
    ) -> Outcome | None:
        """A typed message that answers the question asked (not a question of
        its own): the option named by its place or its name, or a day or a
        time. None when it is not such an answer."""
        step = draft.step
        n = (
            _ordinal(text, folded, words_only=step in ("day", "time"))
            if len(folded.split()) <= 4
            else None
        )
        if step == "service":
            named = [f.value for f in lexicon(text) if f.entity == "service"]
            service = next((s for s in named if s in SERVICES), None)
            if service is not None:
                draft.clear_from("service")
                draft.service = service
                self._absorb(ctx, draft, text)
                return await self._advance(ctx, draft)
            if n is not None:
                return await self._typed_number(ctx, draft, n)
        elif step == "city":
            if n is not None and self.offices.city_in_text(folded) is None:
                return await self._typed_number(ctx, draft, n)
        elif step == "office" and draft.city and draft.service:
            office = self._office_named(draft, folded, n)
            if office is not None:
                self._absorb(ctx, draft, text)
                if draft.city == office.city:
                    draft.clear_from("office")
                    draft.office = office.id
                return await self._advance(ctx, draft)
        elif step == "day" and n is not None and draft.office:
            days = await self._offered_days(ctx, draft)
            if 1 <= n <= len(days):
                draft.clear_from("day")
                draft.want_day = days[n - 1].isoformat()
                return await self._advance(ctx, draft)
        today = ctx.clock().astimezone(ctx.calendar.tz).date()
        loose = step in ("day", "time", "confirm")
        answers = (
            find_time(text, loose=loose) is not None
            or find_date(text, today) is not None
            or self.offices.city_in_text(folded) is not None
            or any(self.rules.said(p, folded) for p in (*PARTS, "any_time"))
        )
        if answers and self._absorb(ctx, draft, text):
            return await self._advance(ctx, draft)
        return None

    def _office_named(self, draft: Draft, folded: str, n: int | None) -> Office | None:
        """The office a typed answer names: "первый", "2", "ЦОН №2", "цон 2",
        "второй ЦОН", "канцелярия" (the only one of its kind)."""
        options = self._office_options(draft)
        kinds = [k for k in KINDS if self.rules.said(k, folded)]
        pool = [o for o in options if o.kind in kinds] if kinds else options
        number = n
        if number is None and kinds:
            digits = re.search(r"(?<!\d)(\d{1,2})(?!\d)", folded)
            number = int(digits.group(1)) if digits else None
        if number is not None:
            if kinds:
                for office in pool:
                    names = {fold(name) for name in office.name.values()}
                    if any(re.search(rf"№\s*{number}(?!\d)", name) for name in names):
                        return office
            return pool[number - 1] if 1 <= number <= len(pool) else None
        if kinds and len(pool) == 1:
            return pool[0]
        return None

    async def _offered_days(self, ctx: FlowContext, draft: Draft) -> list[date]:
        """The days the day question offers (as buttons), in order."""
        office = self.offices.get(draft.office or "")
        if office is None:
            return []
        now = ctx.clock()
        days = candidate_days(ctx.calendar, office, now, self.rules, draft.part)
        if not days:
            return []
        taken = await self._taken(ctx, office.id, days[0], days[-1])
        return [
            d
            for d in days
            if free_slots(
                bookable_slots(ctx.calendar, office, d, now, self.rules, draft.part),
                taken,
                office.windows,
            )
        ]

    # -- availability -----------------------------------------------------------------
    def _office_options(self, draft: Draft) -> list[Office]:
        assert draft.city is not None and draft.service is not None
        narrowed = self.offices.bookable_in(draft.city, draft.service, draft.channel)
        return narrowed or self.offices.bookable_in(draft.city, draft.service)

    async def _taken(self, ctx: FlowContext, office_id: str, first: date, last: date) -> Any:
        tz = ctx.calendar.tz
        start = datetime.combine(first, time(0), tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
        return await self.store.taken(office_id, start, end)

    async def _free(
        self, ctx: FlowContext, office_id: str, day: date, part: str | None
    ) -> list[datetime]:
        office = self.offices.get(office_id)
        if office is None:
            return []
        slots = bookable_slots(ctx.calendar, office, day, ctx.clock(), self.rules, part)
        if not slots:
            return []
        return free_slots(slots, await self._taken(ctx, office_id, day, day), office.windows)

    async def _why_not(
        self, ctx: FlowContext, office_id: str, day: date, part: str | None
    ) -> str | None:
        """What to tell the citizen about a day they named, or None when it has free slots."""
        office = self.offices.get(office_id)
        assert office is not None
        problem = day_problem(ctx.calendar, office, day, ctx.clock(), self.rules, part)
        if problem is None and not await self._free(ctx, office_id, day, part):
            return self._day_text(ctx, day, "full", part)
        return None if problem is None else self._day_text(ctx, day, problem, part)

    def _day_text(
        self, ctx: FlowContext, day: date, problem: DayProblem | str, part: str | None
    ) -> str:
        t, lang = ctx.t, ctx.lang
        now = ctx.clock().astimezone(ctx.calendar.tz)
        shown = date_text(t, lang, day)
        if problem == "beyond_horizon":
            last = now.date() + timedelta(days=self.rules.horizon_days)
            return t(lang, "bk-day-beyond", days=self.rules.horizon_days, last=f"{last:%d.%m.%Y}")
        if problem == "holiday":
            name = ctx.calendar.holiday_name(day, lang) or ""
            return t(lang, "bk-day-holiday", date=shown, holiday=name)
        if problem == "full" and part:
            return t(lang, "bk-day-full-part", date=shown, part=t(lang, f"bk-part-{part}"))
        return t(lang, f"bk-day-{problem.replace('_', '-')}", date=shown)

    # -- the questions ---------------------------------------------------------------
    def _nav(self, ctx: FlowContext, back: bool = True) -> list[Button]:
        t, lang = ctx.t, ctx.lang
        row = [Button(t(lang, "bk-btn-back"), "bk:back")] if back else []
        row.append(Button(t(lang, "bk-btn-stop"), "bk:x"))
        return row

    def _reply(self, notes: list[str], text: str, rows: list[list[Button]]) -> Reply:
        return Reply("\n".join([*notes, text]), rows)

    def _ask_service(self, ctx: FlowContext, draft: Draft, notes: list[str]) -> Outcome:
        t, lang = ctx.t, ctx.lang
        rows = [[Button(t(lang, _SERVICE_BUTTONS[s]), f"bk:s:{s}")] for s in SERVICES]
        rows.append(self._nav(ctx, back=False))
        self._save(ctx, draft, "service")
        return ctx.outcome([self._reply(notes, t(lang, "bk-ask-service"), rows)], "book_queue")

    def _ask_city(self, ctx: FlowContext, draft: Draft, notes: list[str]) -> Outcome:
        t, lang = ctx.t, ctx.lang
        buttons = [Button(c.name[lang], f"bk:c:{c.id}") for c in self.offices.cities]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        rows.append(self._nav(ctx))
        self._save(ctx, draft, "city")
        return ctx.outcome([self._reply(notes, t(lang, "bk-ask-city"), rows)], "book_queue")

    def _ask_office(
        self, ctx: FlowContext, draft: Draft, options: list[Office], notes: list[str]
    ) -> Outcome:
        t, lang = ctx.t, ctx.lang
        city = self.offices.city(draft.city or "")
        assert city is not None
        lines = [t(lang, "bk-ask-office", city=city.name[lang])]
        for i, office in enumerate(options, 1):
            lines.append(f"{i}. {office_label(t, lang, office)} — {office.address[lang]}")
        if any(o.sample for o in options):
            lines.append(t(lang, "bk-sample-note"))
        rows = [[Button(office_label(t, lang, o), f"bk:o:{o.id}")] for o in options]
        rows.append(self._nav(ctx))
        self._save(ctx, draft, "office")
        return ctx.outcome([self._reply(notes, "\n".join(lines), rows)], "book_queue")

    async def _ask_day(self, ctx: FlowContext, draft: Draft, notes: list[str]) -> Outcome:
        t, lang = ctx.t, ctx.lang
        office = self.offices.get(draft.office or "")
        assert office is not None
        days = await self._offered_days(ctx, draft)
        label = office_label(t, lang, office)
        self._save(ctx, draft, "day")
        if not days:
            text = t(lang, "bk-no-days", days=self.rules.horizon_days, office=label)
            rows = [self._nav(ctx)]
            if draft.part:
                rows.insert(0, [Button(t(lang, "bk-btn-any-time"), "bk:pt:any")])
            return ctx.outcome([self._reply(notes, text, rows)], "book_queue")
        text = t(lang, "bk-ask-day", office=label, address=office.address[lang])
        if draft.part:
            text += "\n" + t(lang, "bk-only-part", part=t(lang, f"bk-part-{draft.part}"))
        buttons = [Button(day_label(t, lang, d), f"bk:d:{d:%Y%m%d}") for d in days]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        if draft.part:
            rows.append([Button(t(lang, "bk-btn-any-time"), "bk:pt:any")])
        rows.append(self._nav(ctx))
        return ctx.outcome([self._reply(notes, text, rows)], "book_queue")

    def _ask_time(
        self,
        ctx: FlowContext,
        draft: Draft,
        day: date,
        free: list[datetime],
        notes: list[str],
        nearest: list[datetime] | None = None,
    ) -> Outcome:
        """The free times of the day, a page at a time; a time typed that is
        not free puts the nearest free ones first (and its page after them)."""
        t, lang = ctx.t, ctx.lang
        size = self.rules.times_per_page
        pages = max(1, -(-len(free) // size))
        if nearest:
            draft.page = free.index(nearest[0]) // size
        page = min(max(draft.page, 0), pages - 1)
        draft.page = page
        shown = free[page * size : (page + 1) * size]
        first = [Button(f"{s:%H:%M}", f"bk:t:{s:%H%M}") for s in nearest or []]
        buttons = [
            Button(f"{s:%H:%M}", f"bk:t:{s:%H%M}") for s in shown if s not in (nearest or [])
        ]
        rows = [first] if first else []
        rows += [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
        paging: list[Button] = []
        if page > 0:
            paging.append(Button(t(lang, "bk-btn-earlier"), f"bk:tp:{page - 1}"))
        if page < pages - 1:
            paging.append(Button(t(lang, "bk-btn-later"), f"bk:tp:{page + 1}"))
        if paging:
            rows.append(paging)
        if pages > 1 or draft.part:
            parts = [p for p in (*PARTS, None) if p != draft.part]
            rows.append(
                [Button(t(lang, f"bk-btn-{p or 'any-time'}"), f"bk:pt:{p or 'any'}") for p in parts]
            )
        rows.append(self._nav(ctx))
        office = self.offices.get(draft.office or "")
        label = office_label(t, lang, office) if office else ""
        text = t(lang, "bk-ask-time", office=label, date=date_text(t, lang, day))
        if draft.part:
            text += "\n" + t(lang, "bk-only-part", part=t(lang, f"bk-part-{draft.part}"))
        self._save(ctx, draft, "time")
        return ctx.outcome([self._reply(notes, text, rows)], "book_queue")

    def _ask_confirm(
        self, ctx: FlowContext, draft: Draft, slot: datetime, notes: list[str]
    ) -> Outcome:
        t, lang = ctx.t, ctx.lang
        office = self.offices.get(draft.office or "")
        assert office is not None and draft.service is not None
        draft.nonce = secrets.token_hex(4)
        text = t(
            lang,
            "bk-confirm",
            service=t(lang, f"service-{draft.service}"),
            office=office_label(t, lang, office),
            address=office.address[lang],
            when=when_text(t, lang, slot),
        )
        if draft.resched:
            text = t(lang, "bk-resched-note", code=draft.resched) + "\n" + text
        rows = [[Button(t(lang, "bk-btn-confirm"), f"bk:ok:{draft.nonce}")], self._nav(ctx)]
        self._save(ctx, draft, "confirm")
        return ctx.outcome([self._reply(notes, text, rows)], "book_queue")

    # -- confirming -----------------------------------------------------------------
    async def _confirm(self, ctx: FlowContext, draft: Draft | None, nonce: str) -> Outcome:
        t, lang = ctx.t, ctx.lang
        key = f"{ctx.user_id}:{nonce}"
        # A second press of the same confirmation shows the booking it made.
        try:
            earlier = await self.store.by_key(key) if nonce else None
        except Exception as exc:
            if not database_unavailable(exc) or draft is None or draft.nonce != nonce:
                raise
            return self._confirm_later(ctx, draft)
        if earlier is not None:
            if draft is not None and draft.nonce == nonce:
                ctx.finish()
            return self._ticket(ctx, earlier, again=True)
        if draft is None or not nonce or draft.nonce != nonce:
            if draft is None:
                reply = Reply(
                    t(lang, "bk-expired-confirm"),
                    [
                        [
                            Button(t(lang, "bk-btn-new"), "bk:new"),
                            Button(t(lang, "btn-menu"), "menu"),
                        ]
                    ],
                )
                return ctx.outcome([reply], "book_queue")
            return await self._advance(ctx, draft, note=t(lang, "bk-expired-confirm"))
        office = self.offices.get(draft.office or "")
        if office is None or draft.service is None or not draft.day or not draft.time:
            return await self._advance(ctx, draft)
        now = ctx.clock()
        # The time rules once more (the clock moved since the question); the
        # windows are the database's to count.
        slots = bookable_slots(ctx.calendar, office, date.fromisoformat(draft.day), now, self.rules)
        slot = slot_at(slots, draft.time)
        if slot is None:
            shown = f"{draft.time[:2]}:{draft.time[2:]}"
            draft.time, draft.nonce = None, None
            return await self._advance(ctx, draft, note=t(lang, "bk-time-passed", time=shown))
        try:
            booked = await self.store.book(
                user_id=ctx.user_id,
                service=draft.service,
                office_id=office.id,
                windows=office.windows,
                starts_at=slot,
                lang=lang,
                key=key,
                reminders=self.rules.reminders,
                now=now,
                replaces=draft.resched,
            )
        except SlotFull:
            draft.time, draft.nonce = None, None
            note = t(lang, "bk-slot-taken", time=f"{slot:%H:%M}")
            return await self._advance(ctx, draft, note=note)
        except AlreadyBooked as exc:
            ctx.finish()
            return self._already(ctx, exc.existing, [])
        except NotFound:
            ctx.finish()
            return await self._my_bookings(
                ctx, note=t(lang, "bk-resched-missing", code=draft.resched or "")
            )
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            return self._confirm_later(ctx, draft)
        ctx.finish()
        log.info("booking %s made", booked.booking.code)
        return self._ticket(ctx, booked.booking, again=not booked.created)

    def _confirm_later(self, ctx: FlowContext, draft: Draft) -> Outcome:
        """The database is unreachable: nothing was booked (the transaction
        is all or nothing). The draft stays, with the same confirmation, so
        pressing it again books once (a commit cut off on its way is found
        by its key and shown as the ticket)."""
        t, lang = ctx.t, ctx.lang
        log.warning("booking not confirmed: the database is unavailable")
        self._save(ctx, draft, "confirm")
        rows = [[Button(t(lang, "bk-btn-confirm"), f"bk:ok:{draft.nonce}")], self._nav(ctx)]
        return ctx.outcome([Reply(t(lang, "bk-db-down"), rows)], "book_queue")

    def _ticket(self, ctx: FlowContext, booking: Booking, *, again: bool = False) -> Outcome:
        t, lang = ctx.t, ctx.lang
        office = self.offices.get(booking.office_id)
        key = "bk-ticket-moved" if booking.replaces_id is not None else "bk-ticket"
        text = t(
            lang,
            key,
            code=booking.code,
            service=t(lang, f"service-{booking.service}"),
            office=office_label(t, lang, office) if office else booking.office_id,
            address=office.address[lang] if office else "",
            when=when_text(t, lang, booking.starts_at.astimezone(ctx.calendar.tz)),
        )
        if again:
            text = t(lang, "bk-ticket-again") + "\n" + text
        parts = [text]
        if office is not None:
            documents = ctx.kb.find("ask_documents", booking.service, office.kind)
            if documents:
                parts.append(t(lang, "bk-bring") + "\n" + _render(ctx, documents))
        # The reminders this booking gets: those whose moment is still ahead.
        ahead = [o for o in self.rules.reminders if booking.starts_at - o > ctx.clock()]
        if ahead:
            parts.append(t(lang, "bk-reminders-note", offsets=offsets_text(t, lang, ahead)))
        rows = [[Button(t(lang, "bk-btn-my"), "bk:my"), Button(t(lang, "btn-menu"), "menu")]]
        return ctx.outcome([Reply("\n\n".join(parts), rows)], "book_queue")

    # -- other answers ----------------------------------------------------------------
    def _live_queue(self, ctx: FlowContext, service: str, notes: list[str]) -> Outcome:
        t, lang = ctx.t, ctx.lang
        text = t(lang, "bk-live-queue")
        entries = ctx.kb.find("ask_queue_rules", service)
        if entries:
            text += "\n\n" + _render(ctx, entries)
        rows = [
            [Button(t(lang, "bk-btn-book-duplicate"), "bk:s:duplicate")],
            [Button(t(lang, "btn-menu"), "menu")],
        ]
        outcome = ctx.outcome([self._reply(notes, text, rows)], "book_queue")
        if entries:
            # The standard's answer was given: a follow-up ("а долго ждать?")
            # is about this service's queue.
            outcome.units = [e.id for e in entries]
            ctx.conv.last_intent, ctx.conv.last_service = "ask_queue_rules", service
            ctx.conv.last_unit = entries[0].id
        return outcome

    def _already(self, ctx: FlowContext, booking: Booking, notes: list[str]) -> Outcome:
        t, lang = ctx.t, ctx.lang
        line = booking_line(t, lang, booking, self.offices, ctx.calendar.tz)
        rows = self._booking_buttons(ctx, booking)
        rows.append([Button(t(lang, "btn-menu"), "menu")])
        return ctx.outcome(
            [self._reply(notes, t(lang, "bk-already", line=line), rows)], "book_queue"
        )

    def _booking_buttons(self, ctx: FlowContext, booking: Booking) -> list[list[Button]]:
        t, lang = ctx.t, ctx.lang
        return [
            [
                Button(t(lang, "bk-btn-reschedule", code=booking.code), f"bk:rs:{booking.code}"),
                Button(
                    t(lang, "bk-btn-cancel-booking", code=booking.code), f"bk:cn:{booking.code}"
                ),
            ]
        ]

    async def _my_bookings(self, ctx: FlowContext, note: str | None = None) -> Outcome:
        t, lang = ctx.t, ctx.lang
        ctx.finish()
        mine = await self.store.upcoming(ctx.user_id, ctx.clock())
        notes = [note] if note else []
        end = [Button(t(lang, "bk-btn-new"), "bk:new"), Button(t(lang, "btn-menu"), "menu")]
        if not mine:
            reply = self._reply(notes, t(lang, "bk-my-none"), [end])
            return ctx.outcome([reply], "my_bookings")
        lines = [t(lang, "bk-my-title")]
        rows: list[list[Button]] = []
        for booking in mine:
            lines.append(booking_line(t, lang, booking, self.offices, ctx.calendar.tz))
            rows.extend(self._booking_buttons(ctx, booking))
        rows.append(end)
        return ctx.outcome([self._reply(notes, "\n".join(lines), rows)], "my_bookings")

    async def _cancel_which(self, ctx: FlowContext) -> Outcome:
        ctx.finish()
        mine = await self.store.upcoming(ctx.user_id, ctx.clock())
        if len(mine) == 1:
            return await self._ask_cancel(ctx, mine[0].code)
        # None to cancel, or several to choose from: the list, answering the
        # citizen's request to cancel (not a request to see the bookings).
        outcome = await self._my_bookings(ctx)
        outcome.intent = "cancel_booking"
        return outcome

    async def _reschedule_which(self, ctx: FlowContext) -> Outcome:
        ctx.finish()
        mine = await self.store.upcoming(ctx.user_id, ctx.clock())
        if len(mine) == 1:
            return await self._reschedule(ctx, mine[0].code)
        return await self._my_bookings(ctx, note=ctx.t(ctx.lang, "bk-resched-which"))

    async def _ask_cancel(self, ctx: FlowContext, code: str) -> Outcome:
        t, lang = ctx.t, ctx.lang
        booking = await self._upcoming(ctx, code)
        if booking is None:
            return await self._my_bookings(ctx, note=t(lang, "bk-cancel-missing", code=code))
        line = booking_line(t, lang, booking, self.offices, ctx.calendar.tz)
        rows = [
            [
                Button(t(lang, "bk-btn-yes-cancel"), f"bk:cy:{code}"),
                Button(t(lang, "bk-btn-keep"), "bk:my"),
            ]
        ]
        return ctx.outcome([Reply(t(lang, "bk-cancel-ask", line=line), rows)], "cancel_booking")

    async def _cancel(self, ctx: FlowContext, code: str) -> Outcome:
        t, lang = ctx.t, ctx.lang
        cancelled = await self.store.cancel(ctx.user_id, code, ctx.clock())
        if cancelled is None:
            return await self._my_bookings(ctx, note=t(lang, "bk-cancel-missing", code=code))
        log.info("booking %s cancelled", code)
        if ctx.conv.flow == NAME and (self._draft(ctx) or Draft()).resched == code:
            ctx.finish()
        rows = [[Button(t(lang, "bk-btn-new"), "bk:new"), Button(t(lang, "btn-menu"), "menu")]]
        return ctx.outcome([Reply(t(lang, "bk-cancelled", code=code), rows)], "cancel_booking")

    async def _reschedule(self, ctx: FlowContext, code: str) -> Outcome:
        t, lang = ctx.t, ctx.lang
        booking = await self._upcoming(ctx, code)
        if booking is None:
            return await self._my_bookings(ctx, note=t(lang, "bk-resched-missing", code=code))
        office = self.offices.get(booking.office_id)
        draft = Draft(service=booking.service, resched=code)
        if office is not None and office.active:
            draft.city, draft.office = office.city, office.id
        return await self._advance(ctx, draft, note=t(lang, "bk-resched-start", code=code))

    async def _upcoming(self, ctx: FlowContext, code: str) -> Booking | None:
        mine = await self.store.upcoming(ctx.user_id, ctx.clock())
        return next((b for b in mine if b.code == code), None)

    async def _stop(self, ctx: FlowContext, *, bookings: bool = False) -> Outcome:
        """The booking in progress is dropped. `bookings`: the citizen asked
        to cancel a booking, so the ones already made follow (the one to
        confirm cancelling, or the list, or that there are none)."""
        t, lang = ctx.t, ctx.lang
        ctx.finish()
        stopped = t(lang, "bk-stopped")
        if bookings:
            outcome = await self._cancel_which(ctx)
            outcome.replies[0].text = f"{stopped}\n{outcome.replies[0].text}"
            return outcome
        rows = [[Button(t(lang, "bk-btn-my"), "bk:my"), Button(t(lang, "btn-menu"), "menu")]]
        return ctx.outcome([Reply(stopped, rows)], "book_queue")


def _render(ctx: FlowContext, entries: list[Entry]) -> str:
    """Knowledge entries with their short sources, as the assistant shows them
    (the full reference is behind the assistant's answers' button)."""
    t, lang = ctx.t, ctx.lang
    texts = [e.text[lang].strip() for e in entries]
    cites: list[str] = []
    for e in entries:
        if e.citation is not None:
            line = t(lang, "cite-short", cite=e.citation.short(lang, ctx.kb))
            if line not in cites:
                cites.append(line)
    return "\n\n".join(texts) + ("\n" + "\n".join(cites) if cites else "")


def _next_day_of_month(today: date, day: int) -> date:
    """The first date on or after today whose day of the month is `day`."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return today


def _is_question(text: str, folded: str) -> bool:
    """A question of the citizen's own ("а сколько делается дубликат?",
    "қанша тұрады"), not an answer to the flow's question."""
    return "?" in text or any(w in _QUESTION_WORDS for w in re.findall(r"\w+", folded))


def _said_any(words: tuple[str, ...], folded: str) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded) for w in words)


def _ordinal(text: str, folded: str, *, words_only: bool = False) -> int | None:
    """An option named by its place: "первый", "вторую", "бірінші", "№2", "2-й"
    (`words_only`: not "11-е", which is a day of the month where days are asked)."""
    for pattern, n in _ORDINAL_WORDS:
        if re.search(rf"(?<!\w){pattern}(?!\w)", folded):
            return n
    if words_only:
        return None
    m = _ORDINAL_NUMBER_RE.search(clean(text).lower())
    if m:
        return int(m.group(1) or m.group(2))
    return None


def _nearest(free: list[datetime], hhmm: str, count: int = 4) -> list[datetime]:
    """The free slots nearest to "HHMM", in order of the day."""
    try:
        wanted = int(hhmm[:2]) * 60 + int(hhmm[2:4])
    except ValueError:
        return []
    closest = sorted(free, key=lambda s: (abs(s.hour * 60 + s.minute - wanted), s))
    return sorted(closest[:count])


def _use_buttons(step: str | None) -> str:
    """The "did not understand" hint of a step: names or numbers where the
    question is which service, city or office; dates and times after that."""
    return "bk-use-buttons-choice" if step in ("service", "city", "office") else "bk-use-buttons"
