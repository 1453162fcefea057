"""The answer-level evaluation is only worth its figure if it is written apart
from what the assistant learns from: the Rasa training data and the units'
example questions. Neither may contain an evaluation message (after the same
normalisation the NLU applies), and every expectation must name a unit that
exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluate import ACT_PREFIX, SCRIPTS, load
from knowledge.base import KnowledgeBase
from nlu.normalize import fold
from nlu.trainingdata import TRAIN_DIR, read

EVAL_DIR = Path(__file__).resolve().parent.parent / "data" / "eval" / "conversations"
ACTS = {"book_queue", "submit_application", "check_status", "request_operator"}
ACTS |= {"cancel_booking", "my_bookings"}


@pytest.fixture(scope="module")
def conversations() -> list:
    return load(sorted(EVAL_DIR.glob("*.yml")))


def test_enough_conversations_in_every_script(conversations: list) -> None:
    assert len(conversations) >= 300
    scripts = {c.script for c in conversations}
    assert scripts == set(SCRIPTS)
    for script in SCRIPTS:
        assert sum(c.script == script for c in conversations) >= 20, script


def test_no_evaluation_text_in_training_or_unit_examples(
    conversations: list, kb: KnowledgeBase
) -> None:
    taught = {fold(e.text) for e in read(sorted(TRAIN_DIR.rglob("*.yml"))).examples}
    for entry in kb.entries:
        for questions in entry.ask.values():
            taught |= {fold(q) for q in questions}
    leaked = [
        turn.user
        for conv in conversations
        for turn in conv.turns
        if fold(turn.user) in taught and len(fold(turn.user).split()) > 2
    ]
    assert leaked == []


def test_expectations_name_existing_units_and_cover_every_detail(
    conversations: list, kb: KnowledgeBase
) -> None:
    ids = {e.id for e in kb.entries}
    expected: set[str] = set()
    for conv in conversations:
        for turn in conv.turns:
            for name in turn.expect or ():
                if name.startswith(ACT_PREFIX):
                    assert name[len(ACT_PREFIX) :] in ACTS, (conv.id, name)
                else:
                    assert name in ids, (conv.id, name)
                    expected.add(name)
    details = {e.id for e in kb.entries if e.detail}
    assert details - expected == set()
