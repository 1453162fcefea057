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
        # Fluent loads a language's files lazily, through a generator, on the
        # first message asked for: two threads doing that at once (PDFs are
        # rendered in worker threads) fail with "generator already executing".
        # Asking for a key that is nowhere loads every file now, in one thread.
        for l10n in self._l10n.values():
            l10n.format_value("-load-every-file-")

    def __call__(self, lang: str, key: str, **args: Any) -> str:
        l10n = self._l10n.get(lang) or self._l10n["kk"]
        return l10n.format_value(key, args or None)


@lru_cache(maxsize=1)
def default_translator() -> Translator:
    return Translator()
