"""Splitting long replies and building keyboards: pure functions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.events import Button
from actions.i18n import Translator
from bot.keyboards import inline_keyboard, language_buttons, pressed_label
from bot.render import TEXT_LIMIT, split_text


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def squeeze(text: str) -> str:
    return "".join(text.split())


words = st.text(alphabet=st.sampled_from("абвгқңөәіxyz😀 \n"), min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, max_size=60), st.integers(min_value=20, max_value=300))
def test_parts_fit_and_nothing_is_lost(chunks: list[str], limit: int) -> None:
    text = "".join(chunks)
    parts = split_text(text, limit)
    assert all(0 < units(p) <= limit for p in parts)
    assert all(p == p.strip() for p in parts)
    assert squeeze("".join(parts)) == squeeze(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="абв где ", min_size=1, max_size=120), min_size=1, max_size=30))
def test_short_paragraphs_are_never_cut(paragraphs: list[str]) -> None:
    paragraphs = [p.strip() for p in paragraphs if p.strip()]
    text = "\n\n".join(paragraphs)
    parts = split_text(text, 300)
    rebuilt = [q for p in parts for q in p.split("\n\n")]
    assert rebuilt == paragraphs


def test_lines_then_words_then_hard_cuts() -> None:
    lines = "\n".join(["строка " * 5] * 10)
    assert all(p.endswith("строка") for p in split_text(lines, 100))
    one_word = "а" * 250
    assert split_text(one_word, 100) == ["а" * 100, "а" * 100, "а" * 50]


def test_emoji_count_double_as_telegram_counts() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units
    parts = split_text(text)
    assert [units(p) for p in parts] == [4096, 6000 - 4096]


def test_short_text_is_one_part_and_blank_is_none() -> None:
    assert split_text("  Сәлем!  ") == ["Сәлем!"]
    assert split_text(" \n ") == []
    assert split_text("x" * TEXT_LIMIT) == ["x" * TEXT_LIMIT]


def test_keyboard_rows_follow_button_rows() -> None:
    rows = [[Button("A", "a")], [Button("B", "b"), Button("C", "c")]]
    keyboard = inline_keyboard(rows)
    assert keyboard is not None
    assert [[b.callback_data for b in row] for row in keyboard.inline_keyboard] == [
        ["a"],
        ["b", "c"],
    ]
    assert inline_keyboard([]) is None
    assert pressed_label(keyboard, "c") == "C"
    assert pressed_label(keyboard, "zz") is None


def test_a_payload_telegram_would_refuse_is_dropped_not_sent() -> None:
    keyboard = inline_keyboard([[Button("ok", "ask:x"), Button("long", "ask:" + "я" * 40)]])
    assert keyboard is not None
    assert [b.callback_data for b in keyboard.inline_keyboard[0]] == ["ask:x"]


def test_language_buttons_name_each_language_in_itself() -> None:
    [row] = language_buttons(Translator())
    assert [(b.text, b.payload) for b in row] == [("Қазақша", "lang:kk"), ("Русский", "lang:ru")]
