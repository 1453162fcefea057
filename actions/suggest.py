"""Suggested answers for a person: the knowledge-base answers the assistant
would give to a message, best first, each with the clauses it rests on.

Used in the staff chat (buttons under each relayed citizen message: one tap
sends the answer to the citizen) and in the agent console (a caller's
question typed in, answers to read out or copy). A suggestion is identified
by (intent, service, channel): the same three values always give the same
answer, so a button only needs to carry them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from actions.assistant import (
    ACTION_TOPICS,
    ANSWER_ALL_SERVICES,
    CHANNELS,
    CONFIDENCE_THRESHOLD,
    KNOWLEDGE_INTENTS,
    SERVICES,
)
from actions.i18n import Translator
from knowledge.base import Entry, KnowledgeBase
from nlu.pipeline import ParseResult

LIMIT = 3
# When the message is plainly something else ("спасибо", "сәлем"), an answer
# needs at least this weight in the ranking to be suggested.
CHATTER_FLOOR = 0.05
# Words that name a topic outright (data/nlu/INTENTS.md), in the folded form
# the NLU parses. When the model is torn (no intent above the confidence
# threshold) a topic the caller named this way goes first: "на основании
# какого документа" is about the legal basis even if "документ" pulls the
# model towards the list of documents.
TOPIC_CUES: Mapping[str, re.Pattern[str]] = MappingProxyType(
    {
        "ask_legal_basis": re.compile(
            r"\b(приказ\w*|закон\w*|норматив\w*|на основании|буирык\w*"
            r"|зан(ы|га|ына|нан|дар\w*)?\b|негизде\w*)"
        ),
        "ask_fee": re.compile(
            r"\b(сколько стоит|стоимост\w*|платн\w*|бесплатн\w*|госпошлин\w*|акылы\w*|тегин\w*"
            r"|канша турады|баж\w*)"
        ),
        "ask_eds": re.compile(r"\b(эцп|эцк|(электронн\w* )?цифров\w* подпис\w*|колтанба\w*)"),
        "ask_representative": re.compile(r"\b(доверенност\w*|сенимхат\w*|представител\w*|окил\w*)"),
        "ask_home_visit": re.compile(r"\b(на дом|выезд\w*|уиге|уииме)\b"),
        "complaint": re.compile(r"\b(жалоб\w*|жаловать\w*|обжал\w*|шагым\w*)"),
    }
)


@dataclass(frozen=True)
class Suggestion:
    intent: str  # the knowledge topic answered (an action intent maps to its topic)
    service: str | None  # None: the answer covers every service
    channel: str | None
    lang: str
    text: str  # the answer itself, without the sources
    citation: str  # the clauses, rendered in `lang` ("" when the entry cites none)
    message: str  # what the citizen receives: the answer and its sources
    score: float  # the intent's confidence in the NLU ranking (0 for a chosen key)
    entry_ids: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return self.intent, self.service, self.channel


def answerable(intent: str) -> str | None:
    """The knowledge topic that answers `intent`, or None (small talk, actions...)."""
    if intent in KNOWLEDGE_INTENTS:
        return intent
    return ACTION_TOPICS.get(intent)


def render_entries(entries: Sequence[Entry], lang: str, kb: KnowledgeBase, t: Translator) -> str:
    """Entries as the assistant words them: the texts, then one source line per clause."""
    text, cites = _texts_and_cites(entries, lang, kb)
    if cites:
        text += "\n\n" + "\n".join(t(lang, "cite-line", cite=c) for c in cites)
    return text


def _texts_and_cites(
    entries: Sequence[Entry], lang: str, kb: KnowledgeBase
) -> tuple[str, list[str]]:
    parts: list[str] = []
    cites: list[str] = []
    for e in entries:
        parts.append(e.text[lang].strip())
        if e.citation is not None:
            c = e.citation.render(lang, kb)
            if c not in cites:
                cites.append(c)
    return "\n\n".join(parts), cites


def answer(
    kb: KnowledgeBase,
    t: Translator,
    intent: str,
    service: str | None,
    channel: str | None,
    lang: str,
    score: float = 0.0,
) -> Suggestion | None:
    """The answer for one (intent, service, channel) in `lang`; None when the
    knowledge base has none (or the key is not a valid one: it may come from
    a button)."""
    topic = answerable(intent)
    if topic is None or lang not in ("kk", "ru"):
        return None
    if (service is not None and service not in SERVICES) or (
        channel is not None and channel not in CHANNELS
    ):
        return None
    entries = kb.find(topic, service, channel)
    if not entries:
        return None
    text, cites = _texts_and_cites(entries, lang, kb)
    return Suggestion(
        intent=topic,
        service=service,
        channel=channel,
        lang=lang,
        text=text,
        citation="; ".join(cites),
        message=render_entries(entries, lang, kb, t),
        score=score,
        entry_ids=tuple(e.id for e in entries),
    )


def suggest(
    parsed: ParseResult,
    kb: KnowledgeBase,
    t: Translator,
    lang: str,
    *,
    limit: int = LIMIT,
    service_hint: str | None = None,
) -> list[Suggestion]:
    """Up to `limit` answers for the message, in `lang`, best first.

    Intents are taken in the NLU's ranking order, except that when the model
    is torn a topic the message names outright (`TOPIC_CUES`) goes first, and
    topics that do not apply to the service the message names go last. For
    each intent: the service the message names (else one its channel implies,
    ЦОН serving duplicates only; else `service_hint`, the conversation's last
    service, then every other service in turn) and the channel it names. An
    answer already suggested (the same entries) is not repeated.
    """
    named_service = parsed.entity("service")
    named_channel = parsed.entity("channel")
    channel = named_channel if named_channel in CHANNELS else None
    if named_service not in SERVICES:
        named_service = None
    implied = _implied_service(kb, channel) if named_service is None else None
    ranking = sorted(parsed.ranking, key=lambda r: -float(r["confidence"]))
    floor = 0.0
    torn = True
    if ranking:
        top = ranking[0]
        torn = float(top["confidence"]) < CONFIDENCE_THRESHOLD
        if answerable(str(top["name"])) is None and not torn:
            floor = CHATTER_FLOOR
    candidates: list[tuple[int, int, str, float]] = []
    for position, ranked in enumerate(ranking):
        score = float(ranked["confidence"])
        topic = answerable(str(ranked["name"]))
        if topic is None or score < floor:
            continue
        cued = torn and topic in TOPIC_CUES and TOPIC_CUES[topic].search(parsed.normalized)
        applies = named_service is None or named_service in kb.services_for(topic)
        # Lower sorts first: a cued topic, then the ranking; off-service topics last.
        group = (0 if cued else 1) if applies else 2
        candidates.append((group, position, topic, score))
    found: list[Suggestion] = []
    seen: set[tuple[str, ...]] = set()
    for _, _, topic, score in sorted(candidates):
        for service in _services(kb, topic, named_service or implied, service_hint):
            ch = channel if service and channel in kb.channels_for(topic, service) else None
            s = answer(kb, t, topic, service, ch, lang, score)
            if s is None or s.entry_ids in seen:
                continue
            seen.add(s.entry_ids)
            found.append(s)
            if len(found) >= limit:
                return found
    return found


def _implied_service(kb: KnowledgeBase, channel: str | None) -> str | None:
    """The one service offered through `channel` (ЦОН: duplicates), or None."""
    if channel is None:
        return None
    offering = {s for e in kb.entries if channel in e.channels for s in e.services}
    return next(iter(offering)) if len(offering) == 1 else None


def _services(
    kb: KnowledgeBase, topic: str, named: str | None, hint: str | None
) -> list[str | None]:
    services = kb.services_for(topic)
    if not services:
        return []
    if named in services:
        return [named]
    if topic in ANSWER_ALL_SERVICES and len(services) > 1:
        return [None]  # one answer covering every service, as the assistant gives
    ordered: list[str | None] = [s for s in SERVICES if s in services]
    if hint in services:
        ordered.remove(hint)
        ordered.insert(0, hint)
    return ordered
