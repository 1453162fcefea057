"""The assistant: one event and the conversation's state in, replies out.

It knows nothing of Telegram; the bot, the terminal chat and the agent
console are thin adapters around `Assistant.handle`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from actions.dates import find_date
from actions.events import Button, Event, Outcome, Reply
from actions.flows import Flow, FlowContext
from actions.i18n import LANGS, Translator, default_translator
from actions.state import Conversation, MemoryStateStore, StateStore
from knowledge.base import Entry, KnowledgeBase
from knowledge.calendar import Calendar
from nlu.entities import lexicon
from nlu.normalize import fold
from nlu.pipeline import FALLBACK_INTENT, NLU, ParseResult

log = logging.getLogger(__name__)

# Intents answered from the knowledge base.
KNOWLEDGE_INTENTS = frozenset(
    {
        "ask_documents",
        "ask_where_to_apply",
        "ask_schedule",
        "ask_processing_time",
        "ask_application_period",
        "ask_result",
        "ask_application_form",
        "complaint",
        "ask_eds",
        "ask_university_closed",
        "ask_representative",
        "ask_pickup",
        "ask_home_visit",
        "ask_contacts",
        "ask_queue_rules",
        "ask_fee",
        "ask_refusal",
        "ask_legal_basis",
    }
)
# Actions of later features; until a front end provides them the assistant
# answers with what the knowledge base says about them.
ACTION_INTENTS = {
    "book_queue": "booking-info",
    "cancel_booking": "booking-info",
    "my_bookings": "booking-info",
    "check_status": "status-info",
    "submit_application": "application-info",
}
# What to look up in the knowledge base for an action intent.
ACTION_TOPICS = {
    "book_queue": "ask_queue_rules",
    "cancel_booking": "ask_queue_rules",
    "my_bookings": "ask_queue_rules",
    "check_status": "check_status",
    "submit_application": "ask_where_to_apply",
}
# Without a service named, these are answered for every service at once
# (short answers, and the citizen asking them rarely has one in mind).
ANSWER_ALL_SERVICES = frozenset({"ask_legal_basis", "ask_fee", "ask_refusal", "ask_contacts"})
SERVICES = ("duplicate", "grant", "social_support")
CHANNELS = ("provider", "psc", "portal")
CONFIDENCE_THRESHOLD = 0.45
LANG_CONFIDENCE = 0.7
# Words that mark a follow-up: "а через портал?", "ал грантқа ше?"
_FOLLOWUP_RE = re.compile(r"^(а|ал|и|а если|а для|а в|а как|ну а)\b|\b(ше|ше\?|шы|ли)\s*\??$")
_FOLLOWUP_WORDS = frozenset(
    {
        "а",
        "ал",
        "и",
        "если",
        "для",
        "через",
        "аркылы",
        "бойынша",
        "ше",
        "шы",
        "ли",
        "как",
        "ну",
        "дата",
    }
)
# "When" words: a question about when results come is about the term.
_WHEN_RE = re.compile(r"\b(кашан|когда|какого числа|каи куни|кандаи мерзимде|до какого)\b")
_SCHEDULE_PLACES = {
    ("duplicate", "provider"): "duplicate.provider",
    ("duplicate", "psc"): "duplicate.psc",
    ("duplicate", "portal"): "duplicate.portal",
    ("grant", "provider"): "grant.provider",
    ("grant", "portal"): "grant.portal",
    ("social_support", "provider"): "grant.provider",
    ("social_support", "portal"): "grant.portal",
}


class UserDirectory(Protocol):
    """Where a user's remembered language lives (the user's database row)."""

    async def get_language(self, user_id: int) -> str | None: ...
    async def set_language(self, user_id: int, lang: str) -> None: ...


class MemoryUserDirectory:
    def __init__(self) -> None:
        self._langs: dict[int, str] = {}

    async def get_language(self, user_id: int) -> str | None:
        return self._langs.get(user_id)

    async def set_language(self, user_id: int, lang: str) -> None:
        self._langs[user_id] = lang


@dataclass
class Turn:
    """Everything one handled event needs; passed between the helpers below."""

    event: Event
    conv: Conversation
    lang: str
    parsed: ParseResult | None = None


class Assistant:
    def __init__(
        self,
        nlu: NLU,
        kb: KnowledgeBase,
        calendar: Calendar,
        *,
        states: StateStore | None = None,
        users: UserDirectory | None = None,
        translator: Translator | None = None,
        clock: Callable[[], datetime] | None = None,
        flows: Sequence[Flow] = (),
    ) -> None:
        self.nlu = nlu
        self.kb = kb
        self.calendar = calendar
        self.states = states or MemoryStateStore()
        self.users = users or MemoryUserDirectory()
        self.t = translator or default_translator()
        self.clock = clock or calendar.now
        self.flows = {f.name: f for f in flows}
        self._flow_by_intent = {i: f for f in flows for i in f.intents}

    def context(self, turn: Turn) -> FlowContext:
        return FlowContext(
            turn.event.user_id,
            turn.lang,
            turn.conv,
            self.t,
            self.kb,
            self.calendar,
            self.clock,
            turn.parsed,
        )

    # -- entry point --------------------------------------------------------
    async def handle(self, event: Event) -> Outcome:
        self.kb.refresh()
        conv = await self.states.load(event.user_id)
        preferred = await self.users.get_language(event.user_id)
        hint = event.lang_hint if event.lang_hint in LANGS else None
        lang = conv.lang or preferred or hint or "kk"
        turn = Turn(event, conv, lang)
        if event.button is not None:
            outcome = await self._on_button(turn, event.button)
        else:
            outcome = await self._on_text(turn, event.text or "", preferred)
        turn.conv.lang = outcome.lang
        if event.text:
            turn.conv.remember("c", event.text)
        for reply in outcome.replies:
            turn.conv.remember("b", reply.text)
        await self.states.save(event.user_id, turn.conv)
        return outcome

    async def start(self, user_id: int) -> Outcome:
        """The first contact (/start): greeting in both languages, language choice."""
        await self.states.clear(user_id)
        preferred = await self.users.get_language(user_id)
        lang = preferred or "kk"
        reply = Reply(
            self.t(lang, "start-greeting") + "\n\n" + self.t(lang, "choose-language"),
            [[Button("Қазақша", "lang:kk"), Button("Русский", "lang:ru")]],
        )
        return Outcome([reply], lang, "start")

    async def set_language(self, user_id: int, lang: str) -> Outcome:
        if lang not in LANGS:
            lang = "kk"
        await self.users.set_language(user_id, lang)
        conv = await self.states.load(user_id)
        conv.lang = lang
        await self.states.save(user_id, conv)
        return Outcome(
            [Reply(self.t(lang, "lang-switched")), self.menu(lang)], lang, "switch_language"
        )

    def menu(self, lang: str) -> Reply:
        t = self.t
        return Reply(
            t(lang, "menu-title"),
            [
                [Button(t(lang, "btn-duplicate"), "svc:duplicate")],
                [
                    Button(t(lang, "btn-grant"), "svc:grant"),
                    Button(t(lang, "btn-social"), "svc:social_support"),
                ],
                [
                    Button(t(lang, "btn-documents"), "ask:ask_documents"),
                    Button(t(lang, "btn-schedule"), "ask:ask_schedule"),
                ],
                [
                    Button(t(lang, "btn-deadlines"), "ask:ask_processing_time"),
                    Button(t(lang, "btn-book"), "ask:book_queue"),
                ],
                [
                    Button(t(lang, "btn-status"), "ask:check_status"),
                    Button(t(lang, "btn-operator"), "op"),
                ],
                [Button(t(lang, "btn-language"), "lang:" + ("ru" if lang == "kk" else "kk"))],
            ],
        )

    # -- buttons --------------------------------------------------------------
    async def _on_button(self, turn: Turn, payload: str) -> Outcome:
        verb, _, arg = payload.partition(":")
        conv, lang = turn.conv, turn.lang
        if verb in self.flows:
            return await self.flows[verb].on_button(self.context(turn), payload)
        if verb == "lang" and arg in LANGS:
            return await self.set_language(turn.event.user_id, arg)
        if verb == "menu":
            return Outcome([self.menu(lang)], lang, "help")
        if verb == "cancel":
            # /cancel leaves whatever activity is under way (a booking or an
            # application form not yet confirmed, a hand-off) and shows the menu.
            active = self.flows.get(conv.flow or "")
            cancel = getattr(active, "cancel", None)
            if cancel is not None:
                await cancel(self.context(turn))
            conv.flow, conv.flow_data, conv.pending_intent = None, {}, None
            return Outcome([self.menu(lang)], lang, "cancel")
        if verb == "op":
            flow = self._flow_by_intent.get("request_operator")
            if flow is not None:
                return await flow.on_intent(self.context(turn), "request_operator")
            return self._operator(turn)
        if verb == "svc" and arg in SERVICES:
            conv.last_service = arg
            intent = conv.pending_intent
            conv.pending_intent = None
            if intent is None:
                return Outcome([self._service_topics(lang, arg)], lang, None)
            return self._answer(turn, intent, arg, None)
        if verb == "ch" and arg in CHANNELS and conv.last_intent:
            conv.last_channel = arg
            return self._answer(turn, conv.last_intent, conv.last_service, arg)
        if verb == "ask":
            intent, _, service = arg.partition(":")
            flow = self._flow_by_intent.get(intent)
            if flow is not None:
                if service in SERVICES:
                    conv.last_service = service
                return await flow.on_intent(self.context(turn), intent)
            if intent in KNOWLEDGE_INTENTS or intent in ACTION_INTENTS:
                conv.misses = 0
                return self._route(turn, intent, service or conv.last_service, None)
            if intent == "request_operator":
                return self._operator(turn)
        # Unknown or forged payload: change nothing, say so, show what we can do.
        log.info("unknown button payload %r", payload[:64])
        return Outcome([Reply(self.t(lang, "stale-button")), self.menu(lang)], lang, None)

    # -- text -----------------------------------------------------------------
    async def _on_text(self, turn: Turn, text: str, preferred: str | None) -> Outcome:
        conv = turn.conv
        active = self.flows.get(conv.flow or "")
        if active is not None:
            handled = await active.on_text(self.context(turn), text)
            if handled is not None:
                return handled
        parsed = await self.nlu.parse(text)
        turn.parsed = parsed
        if parsed.language_confidence >= LANG_CONFIDENCE or not (conv.lang or preferred):
            turn.lang = parsed.language
        lang = turn.lang
        if parsed.intent == FALLBACK_INTENT and not parsed.ranking:
            return self._with(parsed, Outcome([Reply(self.t(lang, "empty-message"))], lang, None))

        service = parsed.entity("service")
        channel = parsed.entity("channel")
        intent = parsed.intent
        confident = intent != FALLBACK_INTENT and parsed.confidence >= CONFIDENCE_THRESHOLD
        top_two = [r["name"] for r in parsed.ranking[:2]]
        if _WHEN_RE.search(parsed.normalized) and (
            intent == "ask_result" or set(top_two) == {"ask_result", "ask_processing_time"}
        ):
            # "When will the results be?" asks for the term, not for what the result is.
            intent, confident = "ask_processing_time", True

        # A follow-up that only changes the service or channel of the last question.
        if conv.last_intent and (service or channel) and self._is_followup(parsed, confident):
            intent = conv.last_intent
            confident = True
        # An answer to "which service?" typed instead of pressed.
        if conv.pending_intent and service and (not confident or intent not in KNOWLEDGE_INTENTS):
            intent, confident = conv.pending_intent, True
            conv.pending_intent = None

        if not confident:
            flow = self._flow_by_intent.get("request_operator")
            if flow is not None and conv.misses >= 1:
                # The second misunderstanding in a row: a person takes over.
                conv.misses = 0
                outcome = await flow.on_intent(self.context(turn), "request_operator")
                return self._with(parsed, outcome)
            return self._with(parsed, self._not_understood(turn))
        conv.misses = 0
        if intent == "switch_language":
            target = self._language_named(parsed.text, lang)
            return self._with(parsed, await self.set_language(turn.event.user_id, target))
        flow = self._flow_by_intent.get(intent)
        if flow is not None:
            return self._with(parsed, await flow.on_intent(self.context(turn), intent))
        return self._with(parsed, self._route(turn, intent, service, channel))

    @staticmethod
    def _with(parsed: ParseResult, outcome: Outcome) -> Outcome:
        outcome.confidence = parsed.confidence
        outcome.degraded = parsed.degraded
        if outcome.intent is None:
            outcome.intent = parsed.intent
        return outcome

    def _is_followup(self, parsed: ParseResult, confident: bool) -> bool:
        """Does this message only change the service or channel of the last
        question ("а через портал?", "ал грантқа ше?")?"""
        words = [w for w in parsed.normalized.split() if any(ch.isalpha() for ch in w)]
        if len(words) > 7:
            return False
        if not confident or parsed.intent not in KNOWLEDGE_INTENTS:
            return True
        # A confident new question ("а сколько дней делается дубликат?") is
        # not a follow-up: it says more than a marker and a name.
        entity_words = {w for w in words if lexicon(w)}
        content = [
            w for w in words if w not in _FOLLOWUP_WORDS and w not in entity_words and len(w) > 2
        ]
        return bool(_FOLLOWUP_RE.search(parsed.normalized)) and len(content) <= 1

    @staticmethod
    def _language_named(text: str, current: str) -> str:
        f = fold(text)
        if any(w in f for w in ("орыс", "рус", "russian", "орысша")):
            return "ru"
        if any(w in f for w in ("казак", "kazakh", "kazak", "кaзак")):
            return "kk"
        return "ru" if current == "kk" else "kk"

    # -- routing --------------------------------------------------------------
    def _route(self, turn: Turn, intent: str, service: str | None, channel: str | None) -> Outcome:
        lang, conv = turn.lang, turn.conv
        t = self.t
        if intent == "greet":
            return Outcome([Reply(t(lang, "greet"), self.menu(lang).buttons)], lang, intent)
        if intent == "goodbye":
            return Outcome([Reply(t(lang, "goodbye"))], lang, intent)
        if intent == "thank":
            return Outcome([Reply(t(lang, "thank"))], lang, intent)
        if intent == "help":
            return Outcome([Reply(t(lang, "help")), self.menu(lang)], lang, intent)
        if intent == "affirm":
            return Outcome([Reply(t(lang, "affirm-noctx"), self.menu(lang).buttons)], lang, intent)
        if intent == "deny":
            return Outcome([Reply(t(lang, "deny-noctx"))], lang, intent)
        if intent == "out_of_scope":
            return Outcome([Reply(t(lang, "out-of-scope"), self.menu(lang).buttons)], lang, intent)
        if intent == "request_operator":
            return self._operator(turn)
        if intent in ACTION_INTENTS:
            outcome = self._answer(turn, ACTION_TOPICS[intent], service, channel)
            outcome.replies[0].text = (
                t(lang, ACTION_INTENTS[intent]) + "\n" + outcome.replies[0].text
            )
            outcome.intent = intent
            return outcome
        if intent in KNOWLEDGE_INTENTS:
            return self._answer(turn, intent, service, channel)
        conv.last_intent = None
        return Outcome([self.menu(lang)], lang, intent)

    def _operator(self, turn: Turn) -> Outcome:
        lang = turn.lang
        return Outcome(
            [Reply(self.t(lang, "operator-info"), [[Button(self.t(lang, "btn-menu"), "menu")]])],
            lang,
            "request_operator",
        )

    # -- knowledge answers ----------------------------------------------------
    def _answer(self, turn: Turn, intent: str, service: str | None, channel: str | None) -> Outcome:
        lang, conv = turn.lang, turn.conv
        services = self.kb.services_for(intent)
        if service is None and channel is not None:
            # ЦОН serves duplicates only: a channel can settle the service.
            by_channel = {s for s in services if channel in self.kb.channels_for(intent, s)}
            if conv.last_service in by_channel:
                service = conv.last_service
            elif len(by_channel) == 1:
                service = next(iter(by_channel))
        if service is None and conv.last_service in services:
            service = conv.last_service
        if service is not None and service not in services and services:
            # The question does not apply to that service: answer for the ones it does.
            service = None
        if service is None and len(services) > 1 and intent in ANSWER_ALL_SERVICES:
            entries = self.kb.find(intent, None, channel)
            conv.last_intent, conv.last_channel, conv.pending_intent = intent, channel, None
            return Outcome(
                [
                    Reply(
                        self._render(entries, lang),
                        self._answer_buttons(lang, intent, None, channel),
                    )
                ],
                lang,
                intent,
            )
        if service is None and len(services) > 1:
            if {"grant", "social_support"} >= services or self._same_entry(intent, services):
                service = sorted(services)[0]
            else:
                conv.pending_intent = intent
                conv.last_intent = intent
                return Outcome([self._ask_service(lang, services)], lang, intent)
        if service is None and services:
            service = next(iter(services))
        entries = self.kb.find(intent, service, channel)
        if not entries:
            return Outcome(
                [Reply(self.t(lang, "out-of-scope"), self.menu(lang).buttons)], lang, intent
            )
        conv.last_intent = intent
        conv.last_service = service
        conv.last_channel = channel
        conv.pending_intent = None
        text = self._render(entries, lang)
        extra = self._calendar_lines(turn, intent, service, channel)
        if extra:
            text += "\n\n" + extra
        return Outcome(
            [Reply(text, self._answer_buttons(lang, intent, service, channel))], lang, intent
        )

    def _same_entry(self, intent: str, services: set[str]) -> bool:
        ids = {tuple(e.id for e in self.kb.find(intent, s)) for s in services}
        return len(ids) == 1

    def _render(self, entries: list[Entry], lang: str) -> str:
        parts: list[str] = []
        cites: list[str] = []
        for e in entries:
            parts.append(e.text[lang].strip())
            if e.citation is not None:
                c = e.citation.render(lang, self.kb)
                if c not in cites:
                    cites.append(c)
        text = "\n\n".join(parts)
        if cites:
            text += "\n\n" + "\n".join(self.t(lang, "cite-line", cite=c) for c in cites)
        return text

    def _ask_service(self, lang: str, services: set[str]) -> Reply:
        keys = {"duplicate": "btn-duplicate", "grant": "btn-grant", "social_support": "btn-social"}
        return Reply(
            self.t(lang, "ask-service"),
            [[Button(self.t(lang, keys[s]), f"svc:{s}")] for s in SERVICES if s in services],
        )

    def _service_topics(self, lang: str, service: str) -> Reply:
        topics = [
            "ask_documents",
            "ask_where_to_apply",
            "ask_processing_time",
            "ask_schedule",
            "ask_result",
            "ask_pickup" if service == "duplicate" else "ask_application_period",
        ]
        rows = [
            [
                Button(self.t(lang, f"topic-{a}"), f"ask:{a}:{service}"),
                Button(self.t(lang, f"topic-{b}"), f"ask:{b}:{service}"),
            ]
            for a, b in zip(topics[::2], topics[1::2], strict=True)
        ]
        rows.append([Button(self.t(lang, "btn-menu"), "menu")])
        return Reply(
            self.t(lang, f"service-{service}").capitalize() + ". " + self.t(lang, "also-ask"), rows
        )

    def _answer_buttons(
        self, lang: str, intent: str, service: str | None, channel: str | None
    ) -> list[list[Button]]:
        rows: list[list[Button]] = []
        if service:
            other = [
                c for c in CHANNELS if c in self.kb.channels_for(intent, service) and c != channel
            ]
            if other:
                rows.append([Button(self.t(lang, f"channel-{c}"), f"ch:{c}") for c in other])
        related = [
            i for i in ("ask_documents", "ask_processing_time", "ask_schedule") if i != intent
        ]
        rows.append([Button(self.t(lang, f"topic-{i}"), f"ask:{i}") for i in related[:2]])
        rows.append(
            [Button(self.t(lang, "btn-operator"), "op"), Button(self.t(lang, "btn-menu"), "menu")]
        )
        return rows

    # -- calendar lines -------------------------------------------------------
    def _calendar_lines(
        self, turn: Turn, intent: str, service: str | None, channel: str | None
    ) -> str:
        lang = turn.lang
        now = self.clock()
        text = turn.event.text or ""
        mentioned = find_date(text, now.date()) if text else None
        if intent == "ask_schedule" and service:
            return self._schedule_now(lang, service, channel, now)
        if intent == "ask_processing_time" and service == "duplicate":
            return self._due_lines(lang, channel, mentioned, now)
        if intent in ("ask_application_period", "ask_processing_time") and service in (
            "grant",
            "social_support",
        ):
            return self._grant_phase(lang, now.date())
        if intent == "complaint" and mentioned:
            return self.t(
                lang,
                "complaint-due-line",
                date=_fmt(mentioned),
                provider=_fmt(self.calendar.complaint_due(mentioned, "provider")),
                quality=_fmt(self.calendar.complaint_due(mentioned, "quality")),
            )
        return ""

    def _schedule_now(self, lang: str, service: str, channel: str | None, now: datetime) -> str:
        channels = (
            [channel] if channel else [c for c in CHANNELS if (service, c) in _SCHEDULE_PLACES]
        )
        lines = []
        for ch in channels:
            place = _SCHEDULE_PLACES.get((service, ch))
            if place is None:
                continue
            if ch == "portal":
                lines.append(self.t(lang, "open-now-portal"))
                continue
            st = self.calendar.status_at(place, now, lang=lang)
            name = self.t(lang, f"channel-{ch}")
            if st.open and st.closes_at:
                lines.append(
                    self.t(lang, "open-now", place=name, until=st.closes_at.strftime("%H:%M"))
                )
            elif st.next_open:
                reason = self.t(lang, f"reason-{st.reason}", holiday=st.holiday or "")
                nxt = f"{_fmt(st.next_open.date())} {st.next_open.strftime('%H:%M')}"
                lines.append(self.t(lang, "closed-now", place=name, reason=reason, next=nxt))
        return "\n".join(lines)

    def _due_lines(
        self, lang: str, channel: str | None, mentioned: date | None, now: datetime
    ) -> str:
        at = now
        if mentioned and mentioned != now.date():
            at = datetime.combine(mentioned, datetime.min.time().replace(hour=10), now.tzinfo)
        lines = []
        notes: list[str] = []
        for ch in [channel] if channel else ["psc", "provider"]:
            due = self.calendar.duplicate_due_date(ch, at)
            lines.append(
                self.t(
                    lang,
                    "due-line",
                    date=_fmt(at.date()),
                    channel=self.t(lang, f"channel-{ch}"),
                    accepted=_fmt(due.accepted),
                    due=_fmt(due.due),
                )
            )
            for key in due.note_keys:
                note = {
                    "psc_acceptance_day_not_counted": "due-psc-note",
                    "moved_to_next_working_day": "due-moved-note",
                    "due_falls_on_non_working_day": "due-weekend-note",
                }.get(key)
                if note and note not in notes:
                    notes.append(note)
        return "\n".join(lines + [self.t(lang, n) for n in notes])

    def _grant_phase(self, lang: str, today: date) -> str:
        phase = self.calendar.grant_phase(today)
        start, end = self.calendar.grant_window(today.year)
        nstart, nend = self.calendar.grant_window(today.year + 1)
        return self.t(
            lang,
            f"grant-phase-{phase}",
            start=_fmt(start),
            end=_fmt(end),
            results=_fmt(self.calendar.grant_results_by(today.year)),
            next_start=_fmt(nstart),
            next_end=_fmt(nend),
            next_results=_fmt(self.calendar.grant_results_by(today.year + 1)),
        )

    # -- misunderstanding -----------------------------------------------------
    def _not_understood(self, turn: Turn) -> Outcome:
        lang, conv = turn.lang, turn.conv
        conv.misses += 1
        parsed = turn.parsed
        if conv.misses >= 2:
            conv.misses = 0
            return Outcome(
                [
                    Reply(
                        self.t(lang, "not-understood-again"),
                        [
                            [
                                Button(self.t(lang, "btn-operator"), "op"),
                                Button(self.t(lang, "btn-menu"), "menu"),
                            ]
                        ],
                    )
                ],
                lang,
                FALLBACK_INTENT,
            )
        suggestions: list[str] = []
        for r in parsed.ranking if parsed else []:
            name = r["name"]
            if (name in KNOWLEDGE_INTENTS or name in ACTION_INTENTS) and name not in suggestions:
                suggestions.append(name)
            if len(suggestions) == 3:
                break
        rows = [[Button(self.t(lang, f"topic-{s}"), f"ask:{s}")] for s in suggestions]
        rows.append(
            [Button(self.t(lang, "btn-operator"), "op"), Button(self.t(lang, "btn-menu"), "menu")]
        )
        return Outcome([Reply(self.t(lang, "not-understood"), rows)], lang, FALLBACK_INTENT)


def _fmt(d: date) -> str:
    return d.strftime("%d.%m.%Y")
