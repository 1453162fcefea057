"""Text normalisation shared by training and parsing.

Citizens write Kazakh in three scripts: Cyrillic with the Kazakh letters,
Cyrillic without them (ә typed as а, қ as к ...), and Latin (the 2021
alphabet or informal q/sh/zh spellings); Russian sometimes comes in Latin
letters too. Restoring the missing Kazakh letters is guesswork, so instead
both the training data and every incoming message are *folded* into one
form: lower-case Cyrillic without the Kazakh-specific letters. The model
then sees "қандай", "кандай" and "qandai" as the same word.

Language detection must not use the folded form (it throws away the best
evidence), see `nlu.language`.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 600
"""Longer messages are cut: nothing a citizen asks needs more, and the model
and the fallback stay fast on 4,096 characters of noise."""

# Kazakh-specific Cyrillic letters folded to their nearest Russian letter.
_FOLD = str.maketrans(
    {
        "ә": "а",
        "ғ": "г",
        "қ": "к",
        "ң": "н",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "і": "и",
        "ё": "е",
        # й and и are one letter (ı) in Latin Kazakh, and people mix them up.
        "й": "и",
    }
)

# Latin -> folded Cyrillic. Multi-letter sequences first (longest match).
_LATIN_MULTI: tuple[tuple[str, str], ...] = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("sh", "ш"),
    ("ch", "ч"),
    ("zh", "ж"),
    ("kh", "х"),
    ("gh", "г"),
    ("ts", "ц"),
    ("ya", "я"),
    ("ia", "я"),
    ("yu", "ю"),
    ("iu", "ю"),
    ("yo", "е"),
    ("ye", "е"),
)
# The 2018/2021 Kazakh Latin alphabet: i = і, ı = и/й, y = ы, ý = у, ú = ү.
_LATIN_SINGLE = {
    "a": "а",
    "á": "а",
    "ä": "а",
    "b": "б",
    "c": "ц",
    "d": "д",
    "e": "е",
    "é": "е",
    "f": "ф",
    "g": "г",
    "ǵ": "г",
    "ğ": "г",
    "h": "х",
    "i": "и",
    "ı": "и",
    "í": "и",
    "j": "ж",
    "k": "к",
    "l": "л",
    "m": "м",
    "n": "н",
    "ń": "н",
    "ñ": "н",
    "o": "о",
    "ó": "о",
    "ö": "о",
    "p": "п",
    "q": "к",
    "r": "р",
    "s": "с",
    "ş": "ш",
    "t": "т",
    "u": "у",
    "ú": "у",
    "ü": "у",
    "ū": "у",
    "v": "в",
    "w": "у",
    "x": "кс",
    "y": "ы",
    "ý": "у",
    "z": "з",
}
_LATIN_RE = re.compile(r"[a-záäéǵğíıńñóöşúüūý]")
_TOKEN_RE = re.compile(r"\S+")
# Zero-width and bidi marks, and control characters other than whitespace.
_INVISIBLE_RE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A hyphen between letters joins a Kazakh case ending to a name: ЦОН-ға.
_LETTER_HYPHEN_RE = re.compile(r"(?<=[^\W\d_])[-‐‑–](?=[^\W\d_])")
# A date says "a date", not "some numbers" (phone numbers, IINs): the model
# should not learn which digits ask for contacts.
_DATE_RE = re.compile(r"(?<!\d)\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?(?!\d)")
_REPEATS_RE = re.compile(r"([^\W\d_])\1{2,}")
_SPACES_RE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Unicode-normalise, drop invisible and control characters, trim.

    Keeps case and script: this is what language detection and logging use.
    """
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    text = _SPACES_RE.sub(" ", text).strip()
    return text[:MAX_CHARS].rstrip()


def latin_to_cyrillic(word: str) -> str:
    """Transliterate one lower-case word from Latin to folded Cyrillic."""
    out: list[str] = []
    i = 0
    while i < len(word):
        for latin, cyr in _LATIN_MULTI:
            if word.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            ch = word[i]
            out.append(_LATIN_SINGLE.get(ch, ch))
            i += 1
    return "".join(out)


def _fold_token(token: str) -> str:
    if any(ch.isdigit() for ch in token):
        # IINs, application numbers, dates and times stay as typed.
        return token
    if _LATIN_RE.search(token):
        token = latin_to_cyrillic(token)
    return token


def fold(text: str) -> str:
    """The form the NLU model is trained on and parses."""
    text = clean(text).lower()
    text = text.translate(_FOLD)
    text = _LETTER_HYPHEN_RE.sub(" ", text)
    text = _DATE_RE.sub(" дата ", text)
    text = _REPEATS_RE.sub(r"\1\1", text)  # "приииивет" -> "приивет"
    text = _TOKEN_RE.sub(lambda m: _fold_token(m.group(0)), text)
    return _SPACES_RE.sub(" ", text).strip()


def has_letters(text: str) -> bool:
    """True when the message has any letter at all (not only emoji/digits)."""
    return any(ch.isalpha() for ch in text)
