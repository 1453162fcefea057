"""Suggested answers: what the assistant would answer, best first, with clauses."""

from __future__ import annotations

from typing import Any

import pytest

from actions.assistant import ACTION_TOPICS, CHANNELS, KNOWLEDGE_INTENTS, SERVICES
from actions.handoff import parse_suggestion_payload, suggestion_payload
from actions.i18n import Translator
from actions.suggest import answer, suggest
from knowledge.base import KnowledgeBase
from nlu.light import LightModels
from nlu.pipeline import NLU, ParseResult

T = Translator()


def parsed(ranking: list[tuple[str, float]], lang: str = "ru", **entities: str) -> ParseResult:
    ents: list[dict[str, Any]] = [{"entity": k, "value": v} for k, v in entities.items()]
    return ParseResult(
        text="…",
        normalized="…",
        intent=ranking[0][0],
        confidence=ranking[0][1],
        ranking=[{"name": n, "confidence": c} for n, c in ranking],
        entities=ents,
        language=lang,
        language_confidence=0.99,
    )


def test_ranked_with_the_named_service_and_clauses(kb: KnowledgeBase) -> None:
    found = suggest(
        parsed(
            [("ask_documents", 0.8), ("ask_fee", 0.1), ("ask_pickup", 0.05)], service="duplicate"
        ),
        kb,
        T,
        "ru",
    )
    assert [s.key for s in found] == [
        ("ask_documents", "duplicate", None),
        ("ask_fee", "duplicate", None),
        ("ask_pickup", "duplicate", None),
    ]
    first = found[0]
    assert first.citation and "п. " in first.citation  # "п. 9 стандарта «…»"
    assert first.message.startswith(first.text)
    assert T("ru", "cite-line", cite=first.citation.split("; ")[0]) in first.message
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


def test_the_same_answer_in_either_language(kb: KnowledgeBase) -> None:
    kk = answer(kb, T, "ask_documents", "duplicate", None, "kk")
    ru = answer(kb, T, "ask_documents", "duplicate", None, "ru")
    assert kk is not None and ru is not None
    assert kk.entry_ids == ru.entry_ids
    assert kk.text != ru.text
    assert "стандарт" in kk.citation and "стандарта" in ru.citation


def test_without_a_service_each_service_in_turn(kb: KnowledgeBase) -> None:
    found = suggest(parsed([("ask_documents", 0.9)]), kb, T, "kk", service_hint="grant")
    assert found[0].service == "grant"  # the conversation's last service first
    assert len({s.entry_ids for s in found}) == len(found)  # no answer twice


def test_small_talk_gets_no_suggestions(kb: KnowledgeBase) -> None:
    assert suggest(parsed([("thank", 1.0), ("ask_documents", 0.0)]), kb, T, "ru") == []
    assert suggest(parsed([("greet", 0.9), ("ask_fee", 0.08)]), kb, T, "ru") != []


def test_button_payloads_fit_and_read_back(kb: KnowledgeBase) -> None:
    for intent in sorted(KNOWLEDGE_INTENTS | set(ACTION_TOPICS)):
        for service in (None, *SERVICES):
            for channel in (None, *CHANNELS):
                s = answer(kb, T, intent, service, channel, "kk")
                if s is None:
                    continue
                payload = suggestion_payload(s)
                assert len(payload.encode()) < 64, payload
                assert parse_suggestion_payload(payload) == s.key


@pytest.mark.parametrize(
    "key",
    [("greet", None, None), ("ask_documents", "diploma", None), ("ask_documents", None, "mail")],
)
def test_a_forged_key_is_no_answer(kb: KnowledgeBase, key: tuple[Any, Any, Any]) -> None:
    assert answer(kb, T, *key, "ru") is None


async def test_questions_in_both_languages(kb: KnowledgeBase, light: LightModels) -> None:
    nlu = NLU(client=None, light=light)
    for text, lang in [
        ("какие документы нужны для дубликата диплома", "ru"),
        ("дипломның телнұсқасын алу үшін қандай құжаттар керек", "kk"),
    ]:
        p = await nlu.parse(text)
        [first, *_] = suggest(p, kb, T, p.language)
        assert p.language == lang
        assert first.key == ("ask_documents", "duplicate", None)
        assert first.lang == lang


@pytest.mark.rasa
@pytest.mark.parametrize(
    ("text", "lang", "key"),
    [
        ("какие документы нужны для дубликата диплома", "ru", ("ask_documents", "duplicate", None)),
        ("диплом телнусқасын қайдан аламын", "kk", ("ask_where_to_apply", "duplicate", None)),
        ("сколько стоит дубликат диплома", "ru", ("ask_fee", "duplicate", None)),
        ("грант нәтижесі қашан шығады", "kk", ("ask_processing_time", "grant", None)),
    ],
)
async def test_three_suggestions_from_the_real_model(
    rasa_nlu: NLU, kb: KnowledgeBase, text: str, lang: str, key: tuple[str, str, None]
) -> None:
    p = await rasa_nlu.parse(text)
    found = suggest(p, kb, T, p.language)
    assert p.language == lang
    assert key in [s.key for s in found[:2]], [(s.key, s.score) for s in found]
    assert len(found) == 3
    assert all(s.lang == lang for s in found)
