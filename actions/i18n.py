"""UI strings in both languages, from Fluent files under locales/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fluent.runtime import FluentLocalization, FluentResourceLoader

LANGS = ("kk", "ru")
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


class Translator:
    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        loader = FluentResourceLoader(str(directory / "{locale}"))
        # Every .ftl file of a language is one resource: main.ftl for the
        # assistant, others for front ends (bot.ftl, ...).
        resources = sorted(p.name for p in (directory / "kk").glob("*.ftl"))
        self._l10n = {
            lang: FluentLocalization([lang], resources, loader, use_isolating=False)
            for lang in LANGS
        }

    def __call__(self, lang: str, key: str, **args: Any) -> str:
        l10n = self._l10n.get(lang) or self._l10n["kk"]
        return l10n.format_value(key, args or None)


@lru_cache(maxsize=1)
def default_translator() -> Translator:
    return Translator()
