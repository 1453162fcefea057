"""Suggested answers for 1414 agents: for 40 questions per language, the
right knowledge entry is among the top three suggestions from the real
Rasa model. The top-1 and top-3 rates go to build/suggestion-rates.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.i18n import Translator
from actions.suggest import LIMIT, suggest
from knowledge.base import KnowledgeBase
from nlu.pipeline import NLU
from tests.suggestions.questions import QUESTIONS

REPORT = Path(__file__).resolve().parents[2] / "build" / "suggestion-rates.json"


def test_every_expected_entry_exists(kb: KnowledgeBase) -> None:
    for lang, questions in QUESTIONS.items():
        assert len(questions) == 40, lang
        assert len({text for text, _ in questions}) == len(questions), lang
        for _, expected in questions:
            for entry_id in expected:
                kb.get(entry_id)  # KeyError names a stale id


@pytest.mark.rasa
async def test_right_answer_in_top_three(rasa_nlu: NLU, kb: KnowledgeBase) -> None:
    t = Translator()
    report: dict[str, dict[str, object]] = {}
    misses: list[str] = []
    for lang, questions in QUESTIONS.items():
        top1 = top3 = 0
        for text, expected in questions:
            parsed = await rasa_nlu.parse(text)
            found = suggest(parsed, kb, t, lang)
            assert len(found) <= LIMIT
            assert all(s.lang == lang for s in found)
            ranks = [i for i, s in enumerate(found) if set(s.entry_ids) & set(expected)]
            rank = ranks[0] if ranks else None
            top1 += rank == 0
            if rank is None:
                got = [s.entry_ids for s in found]
                misses.append(f"[{lang}] {text!r}: expected {expected}, got {got}")
            else:
                top3 += 1
        report[lang] = {
            "questions": len(questions),
            "top1": round(top1 / len(questions), 3),
            "top3": round(top3 / len(questions), 3),
        }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for lang, rates in report.items():
        print(f"suggestions {lang}: top-1 {rates['top1']:.3f}, top-3 {rates['top3']:.3f}")  # noqa: T201
    assert not misses, "\n".join(misses)
