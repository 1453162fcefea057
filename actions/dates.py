"""Dates as citizens write them, in Kazakh and Russian (folded text).

"сегодня", "бүгін", "ертең", "послезавтра", "10.12", "10.12.2026",
"10 декабря", "10 желтоқсан", "жұмада" / "в пятницу" (the next such day).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from nlu.normalize import clean, fold

_MONTHS: tuple[tuple[str, int], ...] = (
    # Russian (genitive and nominative stems, folded)
    ("январ", 1),
    ("феврал", 2),
    ("март", 3),
    ("апрел", 4),
    ("ма", 5),
    ("июн", 6),
    ("июл", 7),
    ("август", 8),
    ("сентябр", 9),
    ("октябр", 10),
    ("ноябр", 11),
    ("декабр", 12),
    # Kazakh (folded)
    ("кантар", 1),
    ("акпан", 2),
    ("наурыз", 3),
    ("сауир", 4),
    ("мамыр", 5),
    ("маусым", 6),
    ("шилде", 7),
    ("тамыз", 8),
    ("кыркуиек", 9),
    ("казан", 10),
    ("караша", 11),
    ("желтоксан", 12),
)
_WEEKDAYS: tuple[tuple[str, int], ...] = (
    ("понедельник", 0),
    ("вторник", 1),
    ("сред", 2),
    ("четверг", 3),
    ("пятниц", 4),
    ("суббот", 5),
    ("воскресен", 6),
    ("дуисенби", 0),
    ("сейсенби", 1),
    ("сарсенби", 2),
    ("бейсенби", 3),
    ("жума", 4),
    ("сенби", 5),
    ("жексенби", 6),
)
_RELATIVE: tuple[tuple[str, int], ...] = (
    ("послезавтра", 2),
    ("бурсигуни", 2),
    ("бурсугуни", 2),
    ("позавчера", -2),
    ("алдынгы куни", -2),
    ("сегодня", 0),
    ("бугин", 0),
    ("бугун", 0),
    ("сейчас", 0),
    ("казир", 0),
    ("завтра", 1),
    ("ертен", 1),
    ("вчера", -1),
    ("кеше", -1),
)
_NUMERIC_RE = re.compile(r"\b(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?\b")
_DAY_MONTH_RE = re.compile(r"\b(\d{1,2})\s*(?:-?ши|-?шы|-?го)?\s+([а-я]+)")


def _year(y: str | None, today: date) -> int:
    if not y:
        return today.year
    n = int(y)
    return 2000 + n if n < 100 else n


def _safe(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def find_date(text: str, today: date) -> date | None:
    """The first date mentioned in `text`, or None. Without a year, the
    nearest such date not more than ~6 months in the past."""
    m = _NUMERIC_RE.search(clean(text))
    if m:
        d = _safe(_year(m.group(3), today), int(m.group(2)), int(m.group(1)))
        if d:
            return d if m.group(3) else _nearest(d, today)
    folded = fold(text)
    for m2 in _DAY_MONTH_RE.finditer(folded):
        word = m2.group(2)
        for stem, month in _MONTHS:
            if word.startswith(stem) and (stem != "ма" or word.startswith(("мая", "май"))):
                d = _safe(today.year, month, int(m2.group(1)))
                if d:
                    return _nearest(d, today)
    words = folded.split()
    for stem, delta in _RELATIVE:
        if " " in stem:
            if stem in folded:
                return today + timedelta(days=delta)
        elif any(w.startswith(stem) for w in words):
            return today + timedelta(days=delta)
    for stem, weekday in _WEEKDAYS:
        if any(w.startswith(stem) for w in words):
            ahead = (weekday - today.weekday()) % 7
            return today + timedelta(days=ahead or 7)
    return None


def _nearest(d: date, today: date) -> date:
    if (today - d).days > 183:
        return d.replace(year=d.year + 1) if _safe(d.year + 1, d.month, d.day) else d
    return d
