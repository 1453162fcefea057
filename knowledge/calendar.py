"""Working hours, public holidays and service terms for the two education services.

The data (hours, terms, clause citations) lives in ``data/schedules.yml``; this module
only interprets it. Nothing is read at import time: use :meth:`Calendar.load`.

Sources: order No. 654 of 24.11.2015 amending the standards of order No. 186
(seed ``order-654-2015-kk.txt``): the "duplicate" standard (issue of duplicates of
higher-education documents) points 4, 8, 9 and 11, and the "grant" standard (award of
education grants) points 4 and 8.

Interpretations (also stated where they are implemented):

* Acceptance. An application is accepted on the day it is made if that day is a working
  day of the place and the moment is before the end of that day's last open interval
  (before opening or during lunch still counts as that day); otherwise on the next
  working day. For portals "working day" is the provider's working week (Mon-Sat except
  public holidays, point 8 1)), per the next-working-day rule of point 8 3) (duplicate)
  and 8 2) (grant).
* Duplicate term (point 4 1)): 30 calendar days. When the acceptance day is counted it is
  day 1, so ``due = accepted + 29 days``; at ЦОН the acceptance day is not counted, so day
  1 is the next day and ``due = accepted + 30 days``. The due date is not moved when it
  falls on a day off (the standard speaks of calendar days); a note key flags that case.
* Complaints (point 11): "working day" is not defined by the standard; we use the
  labour-law five-day week (Mon-Fri except public holidays), configurable. Counting starts
  on the day after registration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

__all__ = ["Calendar", "DueDate", "PlaceStatus", "Reason", "GrantPhase"]

Reason = Literal["open", "lunch", "after_hours", "before_hours", "day_off", "holiday"]
GrantPhase = Literal["before", "open", "closed_waiting_results", "after"]

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "schedules.yml"

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKS: dict[str, frozenset[int]] = {
    "five_day": frozenset(range(5)),  # Mon-Fri
    "six_day": frozenset(range(6)),  # Mon-Sat
}
_DAY_START = time(0, 0)
_DAY_END = time(23, 59, 59)
_MAX_SCAN_DAYS = 400  # safety bound when searching for the next working day
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):(\d{2})$")
# Date after which Kazakhstan is on UTC+5 everywhere (used to check the zoneinfo data).
_TZ_PROBE = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class PlaceStatus:
    """State of a place at a moment.

    ``next_open`` is set when the place is closed (the next moment it opens);
    ``closes_at`` is set when an office is open (end of the current interval).
    Portals are always open and have neither.
    """

    open: bool
    reason: Reason
    holiday: str | None = None
    next_open: datetime | None = None
    closes_at: datetime | None = None


@dataclass(frozen=True)
class DueDate:
    """Result of :meth:`Calendar.duplicate_due_date`."""

    accepted: date
    due: date
    send_to_psc_by: date | None = None
    note_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    key: str
    kind: Literal["office", "portal"]
    weekly: tuple[tuple[tuple[time, time], ...], ...]  # index = weekday(), lunch removed
    always_open: bool
    next_working_day_rule: bool
    working_hours_ref: str | None
    closed_on_public_holidays: bool
    cite: Mapping[str, Any]


def _parse_time(value: Any, where: str) -> time:
    if not isinstance(value, str):
        raise ValueError(f"{where}: time must be a quoted 'HH:MM' string, got {value!r}")
    return time.fromisoformat(value)


def _parse_offset(value: str) -> timezone:
    m = _OFFSET_RE.match(value)
    if not m:
        raise ValueError(f"utc_offset must look like '+05:00', got {value!r}")
    sign = -1 if m.group(1) == "-" else 1
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(sign * delta, f"UTC{value}")


def _subtract_lunch(
    intervals: list[tuple[time, time]], lunch: tuple[time, time] | None
) -> list[tuple[time, time]]:
    if lunch is None:
        return intervals
    l_start, l_end = lunch
    out: list[tuple[time, time]] = []
    for start, end in intervals:
        if l_end <= start or l_start >= end:
            out.append((start, end))
            continue
        if start < l_start:
            out.append((start, l_start))
        if l_end < end:
            out.append((l_end, end))
    return out


def _month_day(value: str, year: int) -> date:
    month, day = value.split("-")
    return date(year, int(month), int(day))


_RU_NAMES_PATH = Path(__file__).resolve().parents[1] / "data" / "holidays-ru.yml"
_ru_names: dict[str, Any] | None = None
_NAME_SUFFIX_RE = re.compile(r"^(.*?)\s*\((.*)\)$")


def _russian_holiday_name(kk_name: str) -> str:
    """The package's Kazakh holiday name in Russian (data/holidays-ru.yml)."""
    global _ru_names
    if _ru_names is None:
        _ru_names = yaml.safe_load(_RU_NAMES_PATH.read_text(encoding="utf-8")) or {}
    names: Mapping[str, str] = _ru_names.get("names") or {}
    suffixes: Mapping[str, str] = _ru_names.get("suffixes") or {}
    base, suffix = kk_name, ""
    m = _NAME_SUFFIX_RE.match(kk_name)
    if m:
        base, suffix = m.group(1), m.group(2)
    ru = names.get(base, base)
    if suffix:
        for pattern, replacement in suffixes.items():
            translated, n = re.subn(f"^{pattern}$", replacement, suffix)
            if n:
                suffix = translated
                break
        ru += f" ({suffix})"
    return ru


class Calendar:
    """Calendar of the service places (see the module docstring for interpretations)."""

    tz: tzinfo

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self.tz = self._make_tz(config)
        hol = config.get("holidays") or {}
        self._country: str = str(hol.get("country", "KZ"))
        self._default_lang: str = str(hol.get("default_language", "kk"))
        self._holidays: dict[str, holidays.HolidayBase] = {}
        self._places: dict[str, _Place] = {
            key: self._parse_place(key, raw) for key, raw in config["places"].items()
        }
        for place in self._places.values():
            ref = place.working_hours_ref
            if ref is not None and (ref not in self._places or self._places[ref].always_open):
                raise ValueError(f"{place.key}: working_hours_ref {ref!r} must be an office")
        self._terms: Mapping[str, Any] = config["terms"]
        self._complaints: Mapping[str, Any] = config["complaints"]

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: Path | None = None) -> Calendar:
        """Read ``schedules.yml`` (default ``<repo>/data/schedules.yml``)."""
        with (path or DEFAULT_PATH).open(encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
        if not isinstance(config, dict):
            raise ValueError("schedules.yml: top level must be a mapping")
        return cls(config)

    @staticmethod
    def _make_tz(config: Mapping[str, Any]) -> tzinfo:
        """``timezone`` from zoneinfo, unless it disagrees with ``utc_offset``.

        Kazakhstan is UTC+5 since 2024-03-01. With stale tzdata Asia/Almaty still
        says +06:00; then (or if the zone is missing) a fixed ``utc_offset`` zone is used.
        """
        name = config.get("timezone")
        offset = config.get("utc_offset")
        fixed = _parse_offset(str(offset)) if offset is not None else None
        if name:
            try:
                zone = ZoneInfo(str(name))
            except ZoneInfoNotFoundError:
                zone = None
            if zone is not None and (
                fixed is None or _TZ_PROBE.astimezone(zone).utcoffset() == fixed.utcoffset(None)
            ):
                return zone
        if fixed is None:
            raise ValueError("schedules.yml: need a usable timezone or utc_offset")
        return fixed

    @staticmethod
    def _parse_place(key: str, raw: Mapping[str, Any]) -> _Place:
        kind = raw.get("kind", "office")
        if kind not in ("office", "portal"):
            raise ValueError(f"{key}: unknown kind {kind!r}")
        always_open = bool(raw.get("always_open", False))
        lunch_raw = raw.get("lunch")
        lunch = (
            (_parse_time(lunch_raw[0], f"{key}.lunch"), _parse_time(lunch_raw[1], f"{key}.lunch"))
            if lunch_raw
            else None
        )
        weekly: list[tuple[tuple[time, time], ...]] = []
        raw_weekly = raw.get("weekly") or {}
        for day in _WEEKDAYS:
            if always_open:
                weekly.append(((_DAY_START, _DAY_END),))
                continue
            intervals = [
                (_parse_time(a, f"{key}.{day}"), _parse_time(b, f"{key}.{day}"))
                for a, b in (raw_weekly.get(day) or [])
            ]
            weekly.append(tuple(_subtract_lunch(intervals, lunch)))
        return _Place(
            key=key,
            kind=kind,
            weekly=tuple(weekly),
            always_open=always_open,
            next_working_day_rule=bool(raw.get("next_working_day_rule", False)),
            working_hours_ref=raw.get("working_hours_ref"),
            closed_on_public_holidays=bool(raw.get("closed_on_public_holidays", True)),
            cite=raw.get("cite") or {},
        )

    # ----------------------------------------------------------------- helpers

    def _place(self, key: str) -> _Place:
        try:
            return self._places[key]
        except KeyError:
            raise KeyError(f"unknown place {key!r}; known: {sorted(self._places)}") from None

    def _ref(self, key: str) -> _Place:
        """The place whose working week decides acceptance (a portal's provider)."""
        place = self._place(key)
        if place.working_hours_ref is not None:
            return self._places[place.working_hours_ref]
        return place

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("datetime must be timezone-aware")
        return at.astimezone(self.tz)

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz)

    def _holiday_set(self, lang: str) -> holidays.HolidayBase:
        # language is always passed explicitly: otherwise the package picks it from
        # the LANG/LC_* environment variables.
        hs = self._holidays.get(lang)
        if hs is None:
            hs = holidays.country_holidays(self._country, language=lang)
            self._holidays[lang] = hs
        return hs

    def _resolve_lang(self, lang: str) -> str:
        supported: tuple[str, ...] = tuple(
            self._holiday_set(self._default_lang).supported_languages
        )
        if lang in supported:
            return lang
        for cand in supported:
            if cand.split("_")[0] == lang.split("_")[0]:
                return cand
        return self._default_lang

    def config(self) -> Mapping[str, Any]:
        """The raw loaded data (read-only use)."""
        return self._config

    def cite(self, place: str) -> Mapping[str, Any]:
        """``{standard, clause, sub}`` of the clause that sets the place's hours."""
        return self._place(place).cite

    # ------------------------------------------------------------------- public

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def is_holiday(self, d: date) -> bool:
        """Public holiday or observed / transferred day off (``holidays`` package, KZ)."""
        return d in self._holiday_set(self._default_lang)

    def holiday_name(self, d: date, lang: str) -> str | None:
        """Holiday name in ``lang`` if the package has it (kk, en_US, uk), else in kk.

        The package has no Russian names: ``"ru"`` gets the Kazakh name.
        """
        name = self._holiday_set(self._resolve_lang(lang)).get(d)
        if name is None:
            return None
        if lang == "ru":
            return _russian_holiday_name(str(name))
        return str(name)

    def is_working_day(self, place: str, d: date) -> bool:
        """Working day of the place; for a portal, of its provider (next-working-day rule)."""
        p = self._ref(place)
        if p.closed_on_public_holidays and self.is_holiday(d):
            return False
        return bool(p.weekly[d.weekday()])

    def opening_hours(self, place: str, d: date) -> list[tuple[time, time]]:
        """Open intervals on ``d`` (lunch splits the day); ``[]`` when closed.

        Portals: ``[(00:00, 23:59:59)]`` every day, holidays included.
        """
        p = self._place(place)
        if p.always_open:
            return [(_DAY_START, _DAY_END)]
        if p.closed_on_public_holidays and self.is_holiday(d):
            return []
        return list(p.weekly[d.weekday()])

    def next_working_day(self, place: str, d: date) -> date:
        """First working day strictly after ``d``."""
        cur = d
        for _ in range(_MAX_SCAN_DAYS):
            cur += timedelta(days=1)
            if self.is_working_day(place, cur):
                return cur
        raise ValueError(f"{place}: no working day within {_MAX_SCAN_DAYS} days after {d}")

    def _next_open(self, place: str, local: datetime) -> datetime:
        d, t = local.date(), local.time()
        for start, _end in self.opening_hours(place, d):
            if t < start:
                return self._at(d, start)
        nxt = self.next_working_day(place, d)
        return self._at(nxt, self.opening_hours(place, nxt)[0][0])

    def status_at(self, place: str, at: datetime, *, lang: str = "kk") -> PlaceStatus:
        """Open or closed at ``at`` and why; ``holiday`` is the name in ``lang``.

        Reason precedence when closed: holiday, day_off, before_hours, lunch, after_hours.
        """
        p = self._place(place)
        local = self._local(at)
        d, t = local.date(), local.time()
        hol = self.holiday_name(d, lang)
        if p.always_open:
            return PlaceStatus(open=True, reason="open", holiday=hol)
        intervals = self.opening_hours(place, d)
        for start, end in intervals:
            if start <= t < end:
                return PlaceStatus(
                    open=True, reason="open", holiday=hol, closes_at=self._at(d, end)
                )
        reason: Reason
        if p.closed_on_public_holidays and hol is not None:
            reason = "holiday"
        elif not intervals:
            reason = "day_off"
        elif t < intervals[0][0]:
            reason = "before_hours"
        elif t >= intervals[-1][1]:
            reason = "after_hours"
        else:
            reason = "lunch"
        return PlaceStatus(
            open=False, reason=reason, holiday=hol, next_open=self._next_open(place, local)
        )

    def accepted_on(self, channel_place: str, submitted_at: datetime) -> date:
        """Date on which an application made at ``submitted_at`` is accepted.

        Portals (next-working-day rule, point 8): the submission day if it is a working
        day of the provider and the moment is before the provider's closing time that day
        (before opening or during lunch still count as that day); otherwise the provider's
        next working day. Offices: the day itself if open at that moment; otherwise the
        date of the next opening (the same day when before opening or at lunch, else the
        next working day).
        """
        local = self._local(submitted_at)
        d, t = local.date(), local.time()
        p = self._place(channel_place)
        ref = self._ref(channel_place)
        if p.always_open and not p.next_working_day_rule:
            return d
        if ref.always_open:
            return d
        intervals = self.opening_hours(ref.key, d)
        if intervals and t < intervals[-1][1]:
            return d
        return self.next_working_day(ref.key, d)

    def duplicate_due_date(self, channel: str, submitted_at: datetime) -> DueDate:
        """Term of the duplicate service (point 4 1)): 30 calendar days.

        ``channel`` is ``provider``, ``psc`` or ``portal``. Where the acceptance day counts,
        it is day 1: ``due = accepted + 29``. At ЦОН (psc) the acceptance day is not counted,
        day 1 is the next day: ``due = accepted + 30``. ``send_to_psc_by`` (psc only) is
        ``due - 1 day``: the provider sends the result to ЦОН at least one day before the
        term ends (point 9). The due date is not moved off days off (calendar-day term);
        ``due_falls_on_non_working_day`` flags it.

        Note keys: ``moved_to_next_working_day``, ``psc_acceptance_day_not_counted``,
        ``acceptance_day_counted``, ``due_falls_on_non_working_day``.
        """
        term = self._terms["duplicate"]
        channels: Mapping[str, str] = term["channels"]
        if channel not in channels:
            raise ValueError(f"channel must be one of {sorted(channels)}, got {channel!r}")
        place = channels[channel]
        days = int(term["calendar_days"])
        notes: list[str] = []
        accepted = self.accepted_on(place, submitted_at)
        if accepted != self._local(submitted_at).date():
            notes.append("moved_to_next_working_day")
        if channel in (term.get("acceptance_day_not_counted") or []):
            due = accepted + timedelta(days=days)
            notes.append(f"{channel}_acceptance_day_not_counted")
        else:
            due = accepted + timedelta(days=days - 1)
            notes.append("acceptance_day_counted")
        send_by: date | None = None
        if channel == "psc":
            send_by = due - timedelta(days=int(term.get("send_to_psc_days_before", 1)))
        if not self.is_working_day(place, due):
            notes.append("due_falls_on_non_working_day")
        return DueDate(accepted=accepted, due=due, send_to_psc_by=send_by, note_keys=notes)

    def is_week_working_day(self, d: date, week: str = "five_day") -> bool:
        """Working day of a labour-law week: ``five_day`` (Mon-Fri) or ``six_day`` (Mon-Sat),
        public holidays excluded."""
        try:
            days = _WEEKS[week]
        except KeyError:
            raise ValueError(f"week must be one of {sorted(_WEEKS)}, got {week!r}") from None
        return d.weekday() in days and not self.is_holiday(d)

    def add_working_days(self, start: date, n: int, *, week: str = "five_day") -> date:
        """The ``n``-th working day after ``start`` (counting starts the day after ``start``).

        ``n == 0`` returns ``start``. The package's transferred working days (a Saturday
        worked in exchange for a weekday off) are not known to it and are not added.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        cur, left = start, n
        while left:
            cur += timedelta(days=1)
            if self.is_week_working_day(cur, week):
                left -= 1
        return cur

    def complaint_due(self, registered: date, authority: str) -> date:
        """Last day to consider a complaint (point 11): ``provider``/``psc`` 5 working days,
        ``quality`` 15, from the registration date, in the configured week (five_day)."""
        days: Mapping[str, int] = self._complaints["working_days"]
        if authority not in days:
            raise ValueError(f"authority must be one of {sorted(days)}, got {authority!r}")
        week = str(self._complaints.get("week", "five_day"))
        return self.add_working_days(registered, int(days[authority]), week=week)

    def grant_window(self, year: int) -> tuple[date, date]:
        """Grant competition applications (point 4): 23-31 July inclusive."""
        term = self._terms["grant"]
        return _month_day(term["window_start"], year), _month_day(term["window_end"], year)

    def grant_results_by(self, year: int) -> date:
        """Results of the grant competition by 15 August (point 4 1))."""
        return _month_day(self._terms["grant"]["results_by"], year)

    def grant_phase(self, today: date) -> GrantPhase:
        """``before`` until 22 July, ``open`` 23-31 July, ``closed_waiting_results``
        1-15 August (results due by the 15th inclusive), ``after`` from 16 August."""
        if isinstance(today, datetime):
            today = self._local(today).date() if today.tzinfo is not None else today.date()
        start, end = self.grant_window(today.year)
        if today < start:
            return "before"
        if today <= end:
            return "open"
        if today <= self.grant_results_by(today.year):
            return "closed_waiting_results"
        return "after"
