"""locales/*/booking.ftl: both languages complete, every key the booking
code uses exists and formats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fluent.syntax import FluentParser, ast

from actions.i18n import LANGS, Translator

REPO = Path(__file__).resolve().parents[2]
CODE = [
    *sorted((REPO / "actions" / "booking").glob("*.py")),
    REPO / "bot" / "reminders.py",
    REPO / "bot" / "handlers" / "booking_staff.py",
]


def keys(lang: str) -> set[str]:
    resource = FluentParser().parse((REPO / "locales" / lang / "booking.ftl").read_text())
    junk = [e for e in resource.body if isinstance(e, ast.Junk)]
    assert not junk, f"{lang}/booking.ftl does not parse: {(junk[0].content or '')[:200]}"
    return {e.id.name for e in resource.body if isinstance(e, ast.Message)}


def used() -> set[str]:
    found: set[str] = set()
    for path in CODE:
        found |= set(re.findall(r'"(bk-[a-z-]+)"', path.read_text()))
    return found


def test_both_languages_have_the_same_keys() -> None:
    assert keys("kk") == keys("ru")
    assert all(k.startswith("bk-") for k in keys("kk"))


def test_every_literal_key_in_the_code_is_defined() -> None:
    assert used() <= keys("kk")


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_formats(lang: str) -> None:
    t = Translator()
    args = {
        "n": 2, "days": 14, "count": 3, "window": 1,
        **{a: "x" for a in ("code", "date", "day", "time", "when", "office", "office_id", "address",
                              "service", "line", "part", "city", "offsets", "holiday", "last",
                              "weekday", "offices")},
    }  # fmt: skip
    kazakh = re.compile("[әғқңөұүһі]", re.IGNORECASE)
    for key in keys(lang):
        text = t(lang, key, **args)
        assert text and text != key and "{" not in text, key
    assert bool(kazakh.search(t(lang, "bk-ask-city"))) == (lang == "kk")
