"""The answer units' classifier (actions/units.py): fitted once by `make
train`, loaded at start; an operator's edit of the knowledge never stalls
the bot while it is fitted again."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from actions.units import UnitRanker
from knowledge.base import KnowledgeBase, default_directory
from nlu.embed import enabled as embeddings_enabled
from nlu.rasa import MODEL_DIR

pytestmark = pytest.mark.skipif(
    not embeddings_enabled(), reason="EMBEDDINGS=off: the ranker has no classifier"
)


def _fitting() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "unit-classifier"]


def test_the_bot_starts_with_the_classifier_make_train_fitted() -> None:
    before = sorted(MODEL_DIR.glob("units-*.npz"))
    kb = KnowledgeBase.load()
    ranker = UnitRanker(kb)
    ranker.warm()
    assert ranker._classifier is not None, "make train saves it; the bot must not fit it again"
    assert not ranker.fitting
    assert sorted(MODEL_DIR.glob("units-*.npz")) == before
    ranked = ranker.rank("дипломдағы тегім қате жазылған, телнұсқа бере ме?", {}, kb.entries)
    assert ranked[0].entry.id == "duplicate.reason.errors"
    assert ranked[0].learned == 0.0  # the classifier's first choice in its service


def test_an_edited_knowledge_base_is_answered_while_its_classifier_is_fitted(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "knowledge"
    directory.mkdir()
    for name in ("source.yml", "appendix1.yml", "duplicate.yml"):
        shutil.copy(default_directory() / name, directory / name)
    # Not what `make train` fitted: the grants' units are gone.
    kb = KnowledgeBase.load(directory)
    models = tmp_path / "models"
    ranker = UnitRanker(kb, model_dir=models)
    message = "дипломды жоғалтып алдым, телнұсқаны қайдан аламын?"
    # Answered at once, by words and meaning, while the classifier is fitted.
    first = ranker.rank(message, {}, kb.entries)
    assert first and first[0].learned == 0.0
    assert ranker.fitting
    deadline = time.monotonic() + 600
    while ranker._classifier is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ranker.fitting
    assert ranker._classifier is not None
    learned = {r.entry.id: r.learned for r in ranker.rank(message, {}, kb.entries)}
    assert learned["duplicate.where_to_apply"] == 0.0
    # Not written: `make train` writes the one the bot starts with.
    assert not list(models.glob("units-*.npz"))


def test_edits_in_a_row_are_fitted_one_at_a_time_and_the_last_one_wins(
    tmp_path: Path,
) -> None:
    """An operator saving the knowledge again and again, several workers
    each reloading it: one fit runs at a time (side by side they took
    8 GB), and what the ranker ends up with fits the knowledge it holds."""
    directory = tmp_path / "knowledge"
    directory.mkdir()
    for name in ("source.yml", "appendix1.yml", "duplicate.yml"):
        shutil.copy(default_directory() / name, directory / name)
    models = tmp_path / "models"
    first = KnowledgeBase.load(directory)
    rankers = [UnitRanker(first, model_dir=models) for _ in range(3)]
    for ranker in rankers:
        ranker.warm()
    # The grants come back: every ranker reloads while its first fit runs.
    for name in ("grant.yml",):
        shutil.copy(default_directory() / name, directory / name)
    second = KnowledgeBase.load(directory)
    most = 0
    for ranker in rankers:
        ranker.kb = second
        ranker.warm()
        most = max(most, len(_fitting()))
    deadline = time.monotonic() + 900
    while any(r.fitting for r in rankers) and time.monotonic() < deadline:
        most = max(most, len(_fitting()))
        time.sleep(0.05)
    assert most == 1
    message = "грантқа жетім бала қандай құжат әкеледі?"
    for ranker in rankers:
        assert ranker._classifier is not None
        assert ranker._built_for is second.entries
        # One row per unit of the knowledge it holds now, the grants' too.
        assert len(ranker._classifier.intercept) == len(ranker._entries)
        ranked = ranker.rank(message, {}, second.entries)
        assert "grant" in ranked[0].entry.services
