"""How suggest() orders answers when the NLU ranking alone would mislead."""

from __future__ import annotations

from typing import Any

from actions.i18n import Translator
from actions.suggest import suggest
from knowledge.base import KnowledgeBase
from nlu.pipeline import ParseResult

T = Translator()


def parsed(ranking: list[tuple[str, float]], normalized: str = "…", **entities: str) -> ParseResult:
    ents: list[dict[str, Any]] = [{"entity": k, "value": v} for k, v in entities.items()]
    return ParseResult(
        text=normalized,
        normalized=normalized,
        intent=ranking[0][0],
        confidence=ranking[0][1],
        ranking=[{"name": n, "confidence": c} for n, c in ranking],
        entities=ents,
        language="ru",
        language_confidence=0.99,
    )


def test_topics_outside_the_named_service_go_last(kb: KnowledgeBase) -> None:
    # No application period for duplicates: that answer would be about grants.
    p = parsed(
        [("ask_application_period", 0.5), ("ask_processing_time", 0.3), ("ask_result", 0.1)],
        service="duplicate",
    )
    found = suggest(p, kb, T, "ru")
    assert [s.key for s in found] == [
        ("ask_processing_time", "duplicate", None),
        ("ask_result", "duplicate", None),
        ("ask_application_period", "grant", None),
    ]


def test_the_psc_means_duplicates(kb: KnowledgeBase) -> None:
    # ЦОН serves duplicates only: the grant answer does not come first.
    found = suggest(
        parsed([("ask_schedule", 0.9)], channel="psc"), kb, T, "ru", service_hint="grant"
    )
    assert found[0].key == ("ask_schedule", "duplicate", "psc")


def test_without_a_service_both_services_are_offered(kb: KnowledgeBase) -> None:
    found = suggest(parsed([("ask_documents", 0.9)]), kb, T, "ru")
    assert {s.service for s in found} >= {"duplicate", "grant"}


def test_a_named_topic_leads_when_the_model_is_torn(kb: KnowledgeBase) -> None:
    ranking = [
        ("ask_processing_time", 0.26),
        ("ask_where_to_apply", 0.21),
        ("ask_refusal", 0.1),
        ("ask_legal_basis", 0.09),
    ]
    torn = parsed(ranking, "на основании какого приказа выдают дубликат", service="duplicate")
    assert suggest(torn, kb, T, "ru")[0].key == ("ask_legal_basis", "duplicate", None)
    # A sure model is trusted: the words do not reorder it.
    sure = parsed(
        [("ask_processing_time", 0.8), ("ask_legal_basis", 0.1)],
        "сколько дней по приказу делают дубликат",
        service="duplicate",
    )
    assert suggest(sure, kb, T, "ru")[0].key == ("ask_processing_time", "duplicate", None)
