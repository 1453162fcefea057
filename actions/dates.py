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


# -- times of day ------------------------------------------------------------------
_KK_LETTERS = str.maketrans(
    {"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и"}
)
_KK_LETTERS.update(str.maketrans({"ё": "е", "й": "и"}))
# Kazakh case endings written after a number: "10-да", "3-те", "10-ға", "11-ге", "10да".
_KK_CASE = r"(?:да|де|та|те|га|ге|ка|ке|на|не|ден|тен|нан|нен)"
_MONTH_OR_DAY = ("числ", "го", "ши", "шы", "число", "кун", "день", "дня ")
_CLOCK_RE = re.compile(r"(?<![\d./:])([01]?\d|2[0-3])\s*[:]\s*([0-5]\d)(?![\d./:])")
_DOTTED_RE = re.compile(r"(?<![\d./:])([01]?\d|2[0-3])[.]([0-5]\d)(?![\d./:])")
# An hour with something that makes it an hour: "в 10", "к 9", "сағат 10",
# "таңғы 10", "10 утра", "3 часа дня", "10-да", "10 00".
_HOUR_RE = re.compile(
    r"(?:(?P<before>\b(?:в|во|к|с|сагат|саг|тангы|танги|танертенги|кешки|тустен кеиин|"
    r"после обеда|утром|вечером|днем)\s+)?)"
    r"(?<![\d./:-])(?P<h>[01]?\d|2[0-3])(?:\s*[:.]\s*(?P<m>[0-5]\d))?"
    r"(?P<case>\s*-?\s*" + _KK_CASE + r"\b)?"
    r"(?P<after>\s*(?:час\w*|ч\b|сагат\w*)?\s*(?:утра|дня|вечера|ночи|таннан|кешке)?)?"
    r"(?![\d./:])"
)
_PM_WORDS = ("дня", "вечера", "кешки", "кешке", "тустен кеиин", "после обеда", "вечером", "днем")
_AM_WORDS = ("утра", "тангы", "танги", "танертенги", "утром", "таннан", "ночи")


def _plain(text: str) -> str:
    return clean(text).lower().translate(_KK_LETTERS)


def find_time(text: str, *, loose: bool = False) -> tuple[int, int, str | None] | None:
    """The time of day in `text` as (hour, minute, hint), hint "am", "pm" or
    None: "10:30", "15.00" (not a date), "в 10 утра", "в 3 часа дня",
    "сағат 10-да", "3-те", "таңғы 10", "10-ға". `loose` (the time is what
    was asked) also takes "10.10" and a bare "в 10". The hour is as written:
    the caller decides whether "в 3" is 15:00 (see `resolve_hour`)."""
    plain = _plain(text)
    hint: str | None = None
    if any(w in plain for w in _PM_WORDS):
        hint = "pm"
    elif any(re.search(r"(?<!\w)" + w, plain) for w in _AM_WORDS):
        hint = "am"
    m = _CLOCK_RE.search(plain)
    if m:
        return int(m.group(1)), int(m.group(2)), hint
    for d in _DOTTED_RE.finditer(plain):
        hour, minute = int(d.group(1)), int(d.group(2))
        as_date = _safe(2000, minute, hour)  # "10.12": the 10th of December
        if as_date is None or (loose and minute % 5 == 0):
            return hour, minute, hint
    for h in _HOUR_RE.finditer(plain):
        before, case, after = h.group("before"), h.group("case"), (h.group("after") or "").strip()
        rest = plain[h.end() :].lstrip()
        if (
            rest.startswith(_MONTH_OR_DAY)
            or any(rest.startswith(stem) for stem, _ in _MONTHS if stem != "ма")
            or rest.startswith(("мая", "май"))
        ):
            continue  # "в 10 декабря", "10-го числа"
        marked = (
            bool(after)
            or bool(case)
            or (before is not None and before.strip() not in ("в", "во", "к", "с"))
        )
        if marked or (loose and before is not None):
            minute = int(h.group("m")) if h.group("m") else 0
            return int(h.group("h")), minute, hint
    return None


def resolve_hour(hour: int, hint: str | None, first: int = 8) -> int:
    """An hour as meant: "в 3" at an office is 15:00: an hour before `first` without "утра" is
    afternoon; "3 часа дня" / "кешкі 5" are afternoon whatever the office."""
    if hint == "pm" and hour < 12:
        return hour + 12
    if hint is None and 1 <= hour < first:
        return hour + 12
    return hour
