"""Slots: when an office can take a booked citizen. Pure functions.

A slot is the start of a `slot_minutes` period that lies wholly inside one of
the office's opening intervals (data/schedules.yml via `Calendar`): none at
lunch, on days off or public holidays. A slot is bookable when it starts at
least `min_notice` after now and on a day no later than today +
`horizon_days` (local time of the calendar). How many citizens a slot holds
(`windows`) is the database's business (storage/booking.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Literal

from actions.booking.config import BookingRules, Office
from knowledge.calendar import Calendar

# Why a day offers nothing: the day has passed, is beyond the horizon, the
# office is closed (a public holiday, a day off), or its last slot is gone.
DayProblem = Literal["past", "beyond_horizon", "holiday", "day_off", "over"]


def office_places(calendar: Calendar) -> list[str]:
    """The schedules.yml places an office may use (offices, not portals)."""
    places = calendar.config().get("places") or {}
    return [key for key, raw in places.items() if (raw or {}).get("kind", "office") == "office"]


def day_slots(calendar: Calendar, office: Office, day: date) -> list[datetime]:
    """Every slot start of `office` on `day` (aware, calendar time zone)."""
    out: list[datetime] = []
    for start, end in calendar.opening_hours(office.place, day):
        at = datetime.combine(day, start, tzinfo=calendar.tz)
        close = datetime.combine(day, end, tzinfo=calendar.tz)
        while at + office.slot <= close:
            out.append(at)
            at += office.slot
    return out


def last_day(now: datetime, rules: BookingRules) -> date:
    return now.date() + timedelta(days=rules.horizon_days)


def in_part(slot: datetime, part: str | None, rules: BookingRules) -> bool:
    """Whether the slot starts in that part of the day ("morning",
    "afternoon"); any slot when `part` is None."""
    if part is None or part not in rules.day_parts:
        return True
    start, end = rules.day_parts[part]
    return start <= slot.time() < end


def bookable_slots(
    calendar: Calendar,
    office: Office,
    day: date,
    now: datetime,
    rules: BookingRules,
    part: str | None = None,
) -> list[datetime]:
    """Slots of `day` a citizen may book at `now` (capacity not considered)."""
    now = now.astimezone(calendar.tz)
    if day < now.date() or day > last_day(now, rules):
        return []
    earliest = now + rules.min_notice
    return [
        s for s in day_slots(calendar, office, day) if s >= earliest and in_part(s, part, rules)
    ]


def candidate_days(
    calendar: Calendar, office: Office, now: datetime, rules: BookingRules, part: str | None = None
) -> list[date]:
    """Days from today to the horizon with at least one bookable slot."""
    now = now.astimezone(calendar.tz)
    days = (now.date() + timedelta(days=i) for i in range(rules.horizon_days + 1))
    return [d for d in days if bookable_slots(calendar, office, d, now, rules, part)]


def day_problem(
    calendar: Calendar,
    office: Office,
    day: date,
    now: datetime,
    rules: BookingRules,
    part: str | None = None,
) -> DayProblem | None:
    """Why `day` offers no bookable slot (capacity aside), or None."""
    now = now.astimezone(calendar.tz)
    if day < now.date():
        return "past"
    if day > last_day(now, rules):
        return "beyond_horizon"
    if not calendar.opening_hours(office.place, day):
        return "holiday" if calendar.is_holiday(day) else "day_off"
    if not bookable_slots(calendar, office, day, now, rules, part):
        return "over"
    return None


def free_slots(
    slots: list[datetime], taken: Mapping[datetime, int], windows: int
) -> list[datetime]:
    """The slots with a window left, given the active bookings per slot start."""
    return [s for s in slots if taken.get(s, 0) < windows]


def slot_at(slots: list[datetime], hhmm: str) -> datetime | None:
    """The slot starting at "HHMM" (as in a button payload), if any."""
    try:
        wanted = time(int(hhmm[:2]), int(hhmm[2:4]))
    except (ValueError, IndexError):
        return None
    return next((s for s in slots if s.time() == wanted), None)
