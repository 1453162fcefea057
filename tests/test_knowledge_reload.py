"""Operators edit data/knowledge while the bot runs: the next answer uses it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from knowledge.base import KnowledgeBase, default_directory


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(default_directory(), target)
    return target


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime + 5, st.st_mtime + 5))


def test_edit_is_picked_up(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    kb = KnowledgeBase.load(directory)
    before = kb.get("duplicate.fee").text["ru"]
    path = directory / "duplicate.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "Приказ № 654 ничего не говорит о стоимости услуги",
            "ИЗМЕНЕНО: приказ № 654 ничего не говорит о стоимости услуги",
        ),
        encoding="utf-8",
    )
    _touch_later(path)
    assert kb.refresh(min_interval=0)
    after = kb.get("duplicate.fee").text["ru"]
    assert after != before and after.startswith("ИЗМЕНЕНО")


def test_broken_edit_keeps_the_last_good_knowledge(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    kb = KnowledgeBase.load(directory)
    count = len(kb.entries)
    path = directory / "grant.yml"
    path.write_text(path.read_text(encoding="utf-8") + "\n- id: broken\n  intents: [nope]\n")
    _touch_later(path)
    assert not kb.refresh(min_interval=0)
    assert len(kb.entries) == count
    assert kb.find("ask_documents", "grant")
