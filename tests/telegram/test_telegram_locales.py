"""locales/*/bot.ftl: both languages complete, every key the bot uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fluent.syntax import FluentParser, ast

from actions.i18n import LANGS, Translator
from bot.dispatcher import COMMANDS

REPO = Path(__file__).resolve().parents[2]


def keys(lang: str) -> set[str]:
    resource = FluentParser().parse((REPO / "locales" / lang / "bot.ftl").read_text())
    junk = [e for e in resource.body if isinstance(e, ast.Junk)]
    assert not junk, f"{lang}/bot.ftl does not parse: {(junk[0].content or '')[:200]}"
    return {e.id.name for e in resource.body if isinstance(e, ast.Message)}


# The Telegram front end's own modules (other features keep their strings elsewhere).
FRONT_END = [
    "bot/dispatcher.py",
    "bot/keyboards.py",
    "bot/render.py",
    "bot/telegram.py",
    *(
        f"bot/handlers/{m}.py"
        for m in ("start", "shortcuts", "privacy", "dialogue", "unsupported", "errors")
    ),
    *(f"bot/middlewares/{m}.py" for m in ("citizen", "flood")),
]


def used_keys() -> set[str]:
    found: set[str] = set()
    for name in FRONT_END:
        found |= set(re.findall(r'"(tg-[a-z-]+)"', (REPO / name).read_text()))
    assert found, "the front end's keys are found"
    return found | {f"tg-cmd-{c}" for c in COMMANDS}


def test_both_languages_have_the_same_keys() -> None:
    assert keys("kk") == keys("ru")


def test_every_key_the_bot_uses_is_defined_and_prefixed() -> None:
    defined = keys("kk")
    assert used_keys() <= defined
    assert all(k.startswith("tg-") for k in defined)


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_formats(lang: str) -> None:
    t = Translator()
    for key in keys(lang):
        text = t(lang, key, count=1)
        assert text and text != key
    kazakh = re.compile("[әғқңөұүһі]", re.IGNORECASE)
    sample = t(lang, "tg-sticker")
    assert bool(kazakh.search(sample)) == (lang == "kk")


@pytest.mark.parametrize("lang", LANGS)
def test_command_descriptions_fit_telegram(lang: str) -> None:
    t = Translator()
    for command in COMMANDS:
        assert 3 <= len(t(lang, f"tg-cmd-{command}")) <= 128
