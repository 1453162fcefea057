"""Handing the conversation to a person (flow "ho").

The citizen asks for a person (intent `request_operator`, the operator
button, /operator) or the assistant failed to understand them twice: the
conversation goes to the staff desk (the Telegram staff chat, one forum
topic per citizen; bot/handlers/staff_relay.py) with what the assistant
knows. While a person has it, the citizen's messages are relayed to the
desk, each with the answers the assistant would have suggested, and the
assistant itself says nothing. /close by either side gives it back.

The open hand-off in the database is the truth; the conversation's active
flow only routes the citizen's text here. Without a desk (no staff chat
configured, or a front end that has none, like the terminal chat) the
citizen is told to call 1414: the assistant never pretends someone is
listening.

What the person reads of the citizen's data: the values of an application
form the citizen was filling (name, IIN, phone: `actions.intake.form.MASKED`)
are masked wherever they appear in the recent messages and the relayed
ones; the staff desk masks any other IIN or phone number besides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from actions.assistant import CONFIDENCE_THRESHOLD, LANG_CONFIDENCE, NOT_UNDERSTOOD
from actions.events import Button, Outcome, Reply
from actions.flows import FlowContext
from actions.intake.form import MASKED
from actions.suggest import Suggestion, answer, suggest
from storage.handoffs import BY_CITIZEN, BY_STAFF, FAILED, Handoffs, HandoffView

if TYPE_CHECKING:
    from actions.assistant import Assistant
    from nlu.pipeline import NLU, ParseResult

log = logging.getLogger(__name__)

NAME = "ho"
CLOSE = "ho:close"  # the citizen's "end the conversation" button (and /close)
SUGGESTION = "ho:sg"  # staff-chat buttons: "ho:sg:<intent>:<service|->:<channel|->"
STAFF_CLOSE = "ho:end"  # staff-chat button on a hand-off's header
# Staff hours: the ЦОН's (Mon-Sat 09:00-20:00 except public holidays).
STAFF_HOURS_PLACE = "duplicate.psc"
RECENT = 10  # the citizen's last messages shown to the person
RECENT_CHARS = 500

ASKED = "asked"
# Flows whose unfinished work is kept while a person has the conversation
# and offered again afterwards ("<flow>:resume" continues it).
RESUMABLE = frozenset({"app"})
APPLICATION_FLOW = "app"  # actions/intake/flow.py, whose form holds personal data


def suspend(conv: Any, handoff_id: int) -> dict[str, Any]:
    """The hand-off's flow data: its id, and what the citizen was in the
    middle of (an application form, say), to be given back when it ends."""
    data: dict[str, Any] = {"id": handoff_id}
    if conv.flow == NAME:
        kept = (conv.flow_data or {}).get("resume")
        if kept:
            data["resume"] = kept
    elif conv.flow:
        data["resume"] = {"flow": conv.flow, "data": dict(conv.flow_data or {})}
    return data


def restore(conv: Any) -> str | None:
    """End the hand-off's part of the conversation: the suspended flow comes
    back (its name returned when the citizen can continue it), else none."""
    kept = (conv.flow_data or {}).get("resume") if conv.flow == NAME else None
    if isinstance(kept, dict) and isinstance(kept.get("flow"), str):
        conv.flow, conv.flow_data = kept["flow"], dict(kept.get("data") or {})
        return conv.flow if conv.flow in RESUMABLE else None
    if conv.flow == NAME:
        conv.flow, conv.flow_data = None, {}
    return None


def closed_notice(t: Any, lang: str, key: str, resumed: str | None, **args: Any) -> Reply:
    """The citizen's notice that the hand-off ended (`key` says how), with the
    unfinished form offered again when there is one (`resumed`, see `restore`)."""
    text = t(lang, key, **args)
    rows = [[Button(t(lang, "btn-menu"), "menu")]]
    if resumed is not None:
        text += "\n\n" + t(lang, "ho-draft-kept")
        rows.insert(0, [Button(t(lang, "btn-ho-resume"), f"{resumed}:resume")])
    return Reply(text, rows)


class DeskUnavailable(Exception):
    """The staff desk could not take the hand-off or the message."""


@dataclass
class Ticket:
    """What the person taking a hand-off is told about it."""

    handoff: HandoffView
    reason: str  # ASKED or NOT_UNDERSTOOD
    intent: str | None
    confidence: float | None
    service: str | None
    recent: list[tuple[str, str]] = field(default_factory=list)  # ("c"|"b", text)
    answer_from: datetime | None = None  # outside staff hours: when someone will answer


class StaffDesk(Protocol):
    """Where hand-offs go. Methods raise DeskUnavailable when the desk
    cannot be reached."""

    async def open(self, ticket: Ticket) -> None:
        """Announce a new hand-off (and remember where it was placed)."""
        ...

    async def relay(self, handoff: HandoffView, text: str, suggestions: list[Suggestion]) -> None:
        """A message of the citizen, with the suggested answers."""
        ...

    async def closed_by_citizen(self, handoff: HandoffView) -> None: ...


def suggestion_payload(s: Suggestion) -> str:
    """The staff-chat button of a suggestion (< 64 bytes: the longest intent,
    service and channel names make 52)."""
    return f"{SUGGESTION}:{s.intent}:{s.service or '-'}:{s.channel or '-'}"


def parse_suggestion_payload(payload: str) -> tuple[str, str | None, str | None] | None:
    parts = payload.split(":")
    if len(parts) != 5 or ":".join(parts[:2]) != SUGGESTION:
        return None
    _, _, intent, service, channel = parts
    return intent, None if service == "-" else service, None if channel == "-" else channel


def form_values(conv: Any) -> dict[str, str]:
    """Personal values of the application form the conversation holds (being
    filled, or kept while a person has the conversation), each with its
    masked form: {"Ахметова Айгерим": "А. А.", "900101300017": "9001******17"}."""
    data: Any = conv.flow_data or {}
    if conv.flow == NAME:
        kept = data.get("resume")
        ok = isinstance(kept, dict) and kept.get("flow") == APPLICATION_FLOW
        data = kept.get("data") if ok else None
    elif conv.flow != APPLICATION_FLOW:
        return {}
    form = data.get("form") if isinstance(data, dict) else None
    values = form.get("data") if isinstance(form, dict) else None
    if not isinstance(values, dict):
        return {}
    return {
        str(value): MASKED[key](str(value))
        for key, value in values.items()
        if key in MASKED and value and len(str(value)) >= 4
    }


def mask_values(text: str, values: dict[str, str]) -> str:
    """`text` with each of `values` (see `form_values`) replaced by its mask."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, values[value])
    return text


def _recent_of(ctx: FlowContext) -> list[tuple[str, str]]:
    """The conversation's last messages, when the conversation keeps them
    (`Conversation.recent`, a list of [who, text]); else only the message
    that brought the citizen here. The form's personal values are masked."""
    kept: Any = getattr(ctx.conv, "recent", None) or []
    recent: list[tuple[str, str]] = []
    for item in kept[-RECENT:]:
        if isinstance(item, list | tuple) and len(item) == 2:
            recent.append((str(item[0]), str(item[1])[:RECENT_CHARS]))
    text = ctx.parsed.text if ctx.parsed is not None else ""
    if text and not any(who == "c" and said == text[:RECENT_CHARS] for who, said in recent[-2:]):
        recent.append(("c", text[:RECENT_CHARS]))
    values = form_values(ctx.conv)
    return [(who, mask_values(said, values)) for who, said in recent[-RECENT:]]


class HandoffFlow:
    name = NAME
    intents = frozenset({"request_operator"})

    def __init__(
        self,
        handoffs: Handoffs,
        nlu: NLU | None = None,
        *,
        desk: StaffDesk | None = None,
        hours_place: str = STAFF_HOURS_PLACE,
    ) -> None:
        self.handoffs = handoffs
        self.nlu = nlu
        self.desk = desk
        self.hours_place = hours_place

    def attach(self, desk: StaffDesk | None) -> None:
        """The front end that has a staff desk plugs it in once it exists."""
        self.desk = desk

    # -- the citizen ---------------------------------------------------------------------
    async def rejoin(self, ctx: FlowContext) -> bool:
        """The conversation's state was lost (a restart on in-memory state, an
        expired key) while the citizen's hand-off is still open in the
        database: the open hand-off wins, and their text goes to the staff."""
        handoff = await self.handoffs.open_of(ctx.user_id)
        if handoff is None or self.desk is None:
            return False
        ctx.start(NAME, {"id": handoff.id})
        return True

    async def on_intent(self, ctx: FlowContext, intent: str) -> Outcome:
        parsed = ctx.parsed
        asked = parsed is None or (
            parsed.intent == "request_operator" and parsed.confidence >= CONFIDENCE_THRESHOLD
        )
        return await self.begin(ctx, ASKED if asked else NOT_UNDERSTOOD)

    async def on_button(self, ctx: FlowContext, payload: str) -> Outcome:
        if payload == CLOSE:
            return await self._close_by_citizen(ctx)
        # Staff-chat payloads never come from a citizen's chat: forged or stale.
        log.info("hand-off payload refused in a citizen's chat")
        return ctx.outcome([self._menu_reply(ctx, "ho-none")])

    async def on_text(self, ctx: FlowContext, text: str) -> Outcome | None:
        handoff = await self.handoffs.open_of(ctx.user_id)
        if handoff is None or self.desk is None:
            # Closed by staff (or the desk went away): the assistant answers again.
            restore(ctx.conv)
            return None
        lang = ctx.lang
        suggestions: list[Suggestion] = []
        if self.nlu is not None and text.strip():
            parsed = await self.nlu.parse(text)
            lang = self._language(parsed, lang)
            suggestions = suggest(parsed, ctx.kb, ctx.t, lang, service_hint=ctx.conv.last_service)
        if lang != handoff.lang:
            await self.handoffs.set_lang(handoff.id, lang)
            handoff = await self.handoffs.get(handoff.id) or handoff
        try:
            await self.desk.relay(handoff, mask_values(text, form_values(ctx.conv)), suggestions)
        except DeskUnavailable:
            log.warning("hand-off %s: citizen's message not relayed", handoff.id)
            return Outcome([Reply(ctx.t(lang, "ho-relay-failed"))], lang, "handoff")
        # A person has the conversation: the assistant stays silent.
        return Outcome([], lang, "handoff")

    @staticmethod
    def _language(parsed: ParseResult, current: str) -> str:
        if parsed.language in ("kk", "ru") and parsed.language_confidence >= LANG_CONFIDENCE:
            return parsed.language
        return current

    async def begin(self, ctx: FlowContext, reason: str) -> Outcome:
        if self.desk is None:
            return ctx.outcome([self._menu_reply(ctx, "ho-unavailable")], "request_operator")
        existing = await self.handoffs.open_of(ctx.user_id)
        if existing is not None:
            ctx.start(NAME, suspend(ctx.conv, existing.id))
            return ctx.outcome([self._with_close(ctx, "ho-already")], "request_operator")
        parsed = ctx.parsed
        intent, confidence = (
            (parsed.intent, parsed.confidence) if parsed is not None else (None, None)
        )
        if intent == "request_operator" or intent is None:
            # What the citizen was asking about before asking for a person.
            intent, confidence = ctx.conv.last_intent, None
        handoff = await self.handoffs.create(ctx.user_id, ctx.lang, reason, intent, confidence)
        if handoff is None:  # opened a moment ago by a parallel update
            return ctx.outcome([self._with_close(ctx, "ho-already")], "request_operator")
        status = ctx.calendar.status_at(self.hours_place, ctx.clock(), lang=ctx.lang)
        answer_from = status.next_open if not status.open else None
        ticket = Ticket(
            handoff,
            reason,
            intent,
            confidence,
            (parsed.entity("service") if parsed else None) or ctx.conv.last_service,
            _recent_of(ctx),
            answer_from,
        )
        try:
            await self.desk.open(ticket)
        except DeskUnavailable:
            log.warning("hand-off %s: staff desk unavailable", handoff.id)
            await self.handoffs.close(handoff.id, by=None, status=FAILED)
            return ctx.outcome([self._menu_reply(ctx, "ho-unavailable")], "request_operator")
        ctx.start(NAME, suspend(ctx.conv, handoff.id))
        key = "ho-connecting" if reason == ASKED else "ho-connecting-not-understood"
        text = ctx.t(ctx.lang, key)
        if answer_from is not None:
            hours = ctx.calendar.opening_hours(self.hours_place, answer_from.date())
            reason_text = ctx.t(ctx.lang, f"reason-{status.reason}", holiday=status.holiday or "")
            text += "\n\n" + ctx.t(
                ctx.lang,
                "ho-outside-hours",
                reason=reason_text,
                start=hours[0][0].strftime("%H:%M") if hours else "",
                end=hours[-1][1].strftime("%H:%M") if hours else "",
                next=answer_from.strftime("%d.%m.%Y %H:%M"),
            )
        close = [[Button(ctx.t(ctx.lang, "btn-ho-close"), CLOSE)]]
        return ctx.outcome([Reply(text, close)], "request_operator")

    async def cancel(self, ctx: FlowContext) -> None:
        """/cancel during a hand-off: it ends, as with /close (the assistant shows the menu)."""
        await self._end(ctx)

    async def _close_by_citizen(self, ctx: FlowContext) -> Outcome:
        resumed = restore(ctx.conv)
        if not await self._end(ctx):
            return ctx.outcome([self._menu_reply(ctx, "ho-none")])
        notice = closed_notice(ctx.t, ctx.lang, "ho-closed-citizen", resumed)
        return ctx.outcome([notice], "handoff_closed")

    async def _end(self, ctx: FlowContext) -> bool:
        """Close the citizen's open hand-off and tell the staff; False when none was open."""
        handoff = await self.handoffs.open_of(ctx.user_id)
        if ctx.conv.flow == NAME:
            ctx.finish()
        if handoff is None:
            return False
        if await self.handoffs.close(handoff.id, BY_CITIZEN) and self.desk is not None:
            try:
                await self.desk.closed_by_citizen(handoff)
            except DeskUnavailable:
                log.warning("hand-off %s: closing not announced to staff", handoff.id)
        return True

    @staticmethod
    def _menu_reply(ctx: FlowContext, key: str) -> Reply:
        return Reply(ctx.t(ctx.lang, key), [[Button(ctx.t(ctx.lang, "btn-menu"), "menu")]])

    @staticmethod
    def _with_close(ctx: FlowContext, key: str) -> Reply:
        return Reply(ctx.t(ctx.lang, key), [[Button(ctx.t(ctx.lang, "btn-ho-close"), CLOSE)]])


class StaffSide:
    """What a person does with a hand-off, whatever the staff front end."""

    def __init__(self, assistant: Assistant, flow: HandoffFlow) -> None:
        self.assistant = assistant
        self.flow = flow
        self.handoffs = flow.handoffs

    async def close(self, handoff: HandoffView) -> Reply | None:
        """Give the conversation back to the assistant; the citizen's notice,
        or None when it was closed already."""
        if not await self.handoffs.close(handoff.id, BY_STAFF):
            return None
        states = self.assistant.states
        conv = await states.load(handoff.user_id)
        resumed = None
        if conv.flow == NAME:
            resumed = restore(conv)
            await states.save(handoff.user_id, conv)
        return closed_notice(self.assistant.t, handoff.lang, "ho-closed-staff", resumed)

    def answer(
        self, handoff: HandoffView, intent: str, service: str | None, channel: str | None
    ) -> Suggestion | None:
        """A suggested answer, in the citizen's language."""
        return answer(self.assistant.kb, self.assistant.t, intent, service, channel, handoff.lang)

    async def answered(self, handoff: HandoffView) -> None:
        """A person wrote to the citizen: their next message goes to the person
        again even if the conversation's state was reset meanwhile (/start)."""
        await self.handoffs.staff_answered(handoff.id)
        states = self.assistant.states
        conv = await states.load(handoff.user_id)
        if conv.flow != NAME:
            conv.flow_data = suspend(conv, handoff.id)
            conv.flow = NAME
            await states.save(handoff.user_id, conv)
