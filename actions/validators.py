"""Checks for what a citizen types into the application form.

Every validator takes the raw text and returns the clean value, or raises
`Invalid` with a message key (`intake-err-<code>` in locales/*/intake.ftl)
and its arguments, so the flow can answer in the citizen's language.
Nothing here logs; `mask_iin` / `mask_phone` are what may be logged, and
`mask_personal` masks every IIN and phone number in a free text (what a
citizen wrote, before it is shown in the staff chat).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

# Longest value kept for each kind of field; longer input is refused, not cut and kept.
NAME_MAX = 150
TEXT_MAX = 200
ADDRESS_MAX = 300
EARLIEST_GRADUATION = 1950

_SPACES = re.compile(r"\s+")
# A word of letters (any script), joined by spaces, hyphens, apostrophes or dots.
_NAME_RE = re.compile(r"^[^\W\d_]+(?:[\s.\-'’`]+[^\W\d_]+)*\.?$")
_IIN_SEPARATORS = re.compile(r"[\s\-]+")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]+")
_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
# 7th digit of an IIN: century of birth (and sex): 1-2 -> 1800s, 3-4 -> 1900s, 5-6 -> 2000s.
_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


class Invalid(ValueError):
    """The input is not acceptable; `code` names the message to show."""

    def __init__(self, code: str, **args: Any) -> None:
        super().__init__(code)
        self.code = code
        self.args_ = args

    @property
    def key(self) -> str:
        return f"intake-err-{self.code}"


def clean(text: str) -> str:
    """Printable text on one line: control and zero-width characters removed,
    runs of whitespace made one space."""
    kept = [
        " " if ch.isspace() else ch
        for ch in unicodedata.normalize("NFC", text)
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    ]
    return _SPACES.sub(" ", "".join(kept)).strip()


def _bounded(text: str, limit: int) -> str:
    value = clean(text)
    if not value:
        raise Invalid("empty")
    if len(value) > limit:
        raise Invalid("too-long", limit=limit, length=len(value))
    return value


def validate_text(text: str, limit: int = TEXT_MAX) -> str:
    """Free text (a specialty, a university, an address): some letters, not too long."""
    value = _bounded(text, limit)
    if sum(ch.isalpha() for ch in value) < 2:
        raise Invalid("no-letters")
    return value


def validate_full_name(text: str, limit: int = NAME_MAX) -> str:
    """Surname, name and patronymic (if any): at least two words of letters."""
    value = _bounded(text, limit)
    if any(ch.isdigit() for ch in value):
        raise Invalid("name-digits")
    if not _NAME_RE.match(value):
        raise Invalid("name-chars")
    words = [w for w in re.split(r"[\s.]+", value) if w]
    if len(words) < 2 or any(len(w) < 2 for w in words[:1]):
        raise Invalid("name-short")
    return value


def validate_year(text: str, today: date) -> int:
    value = clean(text)
    if not value:
        raise Invalid("empty")
    if len(value) > 20:
        raise Invalid("year-format")
    digits = value.rstrip(" .гжy").strip()
    if not re.fullmatch(r"\d{4}", digits):
        raise Invalid("year-format")
    year = int(digits)
    if year > today.year:
        raise Invalid("year-future", year=str(today.year))
    if year < EARLIEST_GRADUATION:
        raise Invalid("year-too-early", year=str(EARLIEST_GRADUATION))
    return year


# -- IIN ------------------------------------------------------------------------------
def iin_check_digit(first11: str) -> int | None:
    """The 12th digit of an IIN whose first 11 digits are given; None when no
    digit makes it valid (both weightings give 10)."""
    digits = [int(c) for c in first11]
    if len(digits) != 11:
        raise ValueError("11 digits expected")
    total = sum(d * w for d, w in zip(digits, _WEIGHTS_1, strict=True)) % 11
    if total == 10:
        total = sum(d * w for d, w in zip(digits, _WEIGHTS_2, strict=True)) % 11
        if total == 10:
            return None
    return total


def iin_birth_date(iin: str) -> date | None:
    """The date of birth an IIN encodes, or None when it encodes none."""
    century = _CENTURY.get(int(iin[6]))
    if century is None:
        return None
    try:
        return date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return None


def validate_iin(text: str, today: date | None = None) -> str:
    """A Kazakhstan individual identification number: 12 digits, a real
    date of birth (YYMMDD, century/sex digit 1-6) not in the future, and a
    check digit that matches."""
    value = _IIN_SEPARATORS.sub("", clean(text))
    if not value:
        raise Invalid("empty")
    if len(value) > 40:
        raise Invalid("iin-length")
    if not value.isdigit() or not value.isascii():
        raise Invalid("iin-digits")
    if len(value) != 12:
        raise Invalid("iin-length")
    born = iin_birth_date(value)
    if born is None or (today is not None and born > today):
        raise Invalid("iin-date")
    if iin_check_digit(value[:11]) != int(value[11]):
        raise Invalid("iin-checksum")
    return value


def mask_iin(iin: str | None) -> str:
    """8704******15: enough for a person to recognise, too little to use."""
    if not iin:
        return ""
    if len(iin) < 8:
        return "*" * len(iin)
    return iin[:4] + "*" * (len(iin) - 6) + iin[-2:]


# -- phone ----------------------------------------------------------------------------
def validate_phone(text: str) -> str:
    """+7 or 8, then 10 digits; returned as +7XXXXXXXXXX."""
    raw = clean(text)
    if not raw:
        raise Invalid("empty")
    value = _PHONE_SEPARATORS.sub("", raw)
    if len(value) > 20 or not re.fullmatch(r"\+?\d+", value):
        raise Invalid("phone-format")
    if value.startswith("+7"):
        national = value[2:]
    elif value[0] == "8" or (value[0] == "7" and len(value) == 11):
        national = value[1:]  # 8 is the trunk prefix; 7 alone is "+7" without the plus
    else:
        raise Invalid("phone-format")
    if len(national) != 10:
        raise Invalid("phone-format")
    return "+7" + national


def mask_phone(phone: str | None) -> str:
    """+7*******34"""
    if not phone:
        return ""
    if len(phone) < 6:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]


# In free text: an IIN is 12 digits, typed whole or in groups separated by
# a space or a hyphen ("900101 300017"); a phone number is a Kazakhstan /
# Russia one (+7, 7 or 8, then 10 digits, with the usual separators).
# Toll-free 8 800 numbers (the contact centre's own) are no one's personal
# data and stay.
_DIGIT_RUN = re.compile(r"\d+(?:[ \-]\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
_PHONE_IN_TEXT = re.compile(
    r"(?<![\d+])(?:\+\s?7|7|8)[\s\-()]*(?!800)\d{3}[\s\-()]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
)
_NOT_DIGITS = re.compile(r"\D")


def _mask_iins_in_run(run: str) -> str:
    """Within a run of digit groups, every span of whole groups that makes 12 digits."""
    groups = [(g.start(), g.end()) for g in _DIGIT_GROUP.finditer(run)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        total, j = 0, i
        while j < len(groups) and total < 12:
            total += groups[j][1] - groups[j][0]
            j += 1
        if total == 12:
            spans.append((groups[i][0], groups[j - 1][1]))
            i = j
        else:
            i += 1
    for start, end in reversed(spans):
        run = run[:start] + mask_iin(_NOT_DIGITS.sub("", run[start:end])) + run[end:]
    return run


def mask_personal(text: str) -> str:
    """`text` with every IIN-like number and phone number masked the way
    `mask_iin` and `mask_phone` do (8704******15, +7********34)."""
    text = _DIGIT_RUN.sub(lambda m: _mask_iins_in_run(m.group(0)), text)
    return _PHONE_IN_TEXT.sub(
        lambda m: mask_phone("+7" + _NOT_DIGITS.sub("", m.group(0))[-10:]), text
    )


def mask_name(name: str | None) -> str:
    """Initials only: "А. Б." """
    if not name:
        return ""
    return " ".join(w[0] + "." for w in name.split() if w)
