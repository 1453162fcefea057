"""A content editor breaks a knowledge file while the assistant runs: the
four kinds of broken edit that used to turn every reply into an apology
(the file saved as Windows-1251, a list inside `intents`, a list as
`cite.standard`, a 10,000-deep nesting) are refused; the assistant keeps
answering from the last good knowledge (an edit made just before, not the
files as they were at start), says why in the log and in `kb.last_error`
(for the console), and takes the next good edit."""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from actions.assistant import Assistant
from actions.events import Event
from knowledge.base import KnowledgeBase, default_directory
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU

QUESTION = "какие документы нужны для дубликата диплома"
MARK = "ПОСЛЕДНЯЯ ХОРОШАЯ ПРАВКА. "


def _bump(path: Path) -> None:
    """A later mtime than any before (a test is faster than the clock's grain)."""
    st = path.stat()
    os.utime(path, (st.st_atime + 10, st.st_mtime + 10))


def cp1251(text: str) -> bytes:
    # Kazakh letters have no place in Windows-1251: "?" as Notepad would write.
    return text.encode("cp1251", errors="replace")


def list_in_intents(text: str) -> str:
    line = next(li for li in text.splitlines() if li.strip().startswith("intents: ["))
    assert line.rstrip().endswith("]")
    broken = line.replace("intents: [", "intents: [[", 1).rstrip() + "]"
    return text.replace(line, broken, 1)


def list_as_standard(text: str) -> str:
    assert "{standard: duplicate," in text
    return text.replace("{standard: duplicate,", "{standard: [duplicate],", 1)


def deep_nesting(text: str) -> str:
    return text + "\nnotes: " + "[" * 10_000 + "]" * 10_000 + "\n"


BROKEN: dict[str, Callable[[str], str | bytes]] = {
    "windows-1251": cp1251,
    "list inside intents": list_in_intents,
    "list as cite.standard": list_as_standard,
    "10,000-deep nesting": deep_nesting,
}
WHY = {
    "windows-1251": "UTF-8",
    "list inside intents": "duplicate.yml",
    "list as cite.standard": "duplicate.yml",
    "10,000-deep nesting": "nested too deeply",
}


@pytest.mark.parametrize("edit", list(BROKEN))
async def test_a_broken_edit_keeps_the_last_good_knowledge(
    edit: str,
    tmp_path: Path,
    light: LightModels,
    calendar: Calendar,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = tmp_path / "knowledge"
    shutil.copytree(default_directory(), directory)
    kb = KnowledgeBase.load(directory)
    # Every question looks at the files (the bot waits 2 s between looks).
    monkeypatch.setattr(kb, "refresh", functools.partial(KnowledgeBase.refresh, kb, 0.0))
    assistant = Assistant(NLU(client=None, light=light), kb, calendar)
    path = directory / "duplicate.yml"
    original = path.read_text(encoding="utf-8")

    async def ask(user: int) -> str:
        outcome = await assistant.handle(Event(user, text=QUESTION, lang_hint="ru"))
        assert outcome.intent == "ask_documents" and outcome.lang == "ru"
        return "\n".join(r.text for r in outcome.replies)

    # A good edit first: the knowledge to keep is this one, not the start's.
    first_line = kb.get("duplicate.documents").text["ru"].splitlines()[0]
    good = original.replace(first_line, MARK + first_line, 1)
    path.write_text(good, encoding="utf-8")
    _bump(path)
    answer = await ask(1)
    assert MARK in answer and kb.last_error is None

    broken = BROKEN[edit](good)
    if isinstance(broken, bytes):
        path.write_bytes(broken)
    else:
        path.write_text(broken, encoding="utf-8")
    _bump(path)
    caplog.set_level(logging.ERROR, logger="knowledge.base")
    for user in (2, 3, 4):  # and again: the same answer, the error logged once
        assert await ask(user) == answer
    assert kb.get("duplicate.documents").text["ru"].startswith(MARK)

    refused = [r for r in caplog.records if "not reloaded" in r.getMessage()]
    assert len(refused) == 1, [r.getMessage()[:200] for r in refused]
    assert kb.last_error is not None and WHY[edit] in kb.last_error, kb.last_error
    assert "duplicate.yml" in kb.last_error and kb.last_error_at is not None

    # Fixed: taken at once, the error cleared.
    path.write_text(original, encoding="utf-8")
    _bump(path)
    _bump(path)
    fixed = await ask(5)
    assert MARK not in fixed and kb.last_error is None
