"""Tests for knowledge.calendar. Expected dates are worked out by hand.

Reference weekdays: 2026-12-10 Thu, 12-11 Fri, 12-12 Sat, 12-13 Sun, 12-14 Mon, 12-15 Tue,
12-16 Wed (Independence Day), 12-31 Thu; 2027-01-01 Fri, 01-02 Sat, 01-04 Mon (New Year
observed), 01-09 Sat, 01-10 Sun; 2026-03-20 Fri, Nauryz 21 Sat-23 Mon + observed 24-25;
2026-02-02 Mon; 2026-07-23 Thu, 07-25 Sat, 07-27 Mon.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge.calendar import Calendar, DueDate

ALMATY = timezone(timedelta(hours=5))
DP, PSC, DPORT = "duplicate.provider", "duplicate.psc", "duplicate.portal"
GP, GPORT = "grant.provider", "grant.portal"
SCHEDULES = Path(__file__).resolve().parents[1] / "data" / "schedules.yml"


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ALMATY)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar.load()


# --------------------------------------------------------------------- timezone


def test_timezone_is_utc_plus_5(cal: Calendar) -> None:
    assert datetime(2026, 6, 1, 12, tzinfo=cal.tz).utcoffset() == timedelta(hours=5)
    now = cal.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(hours=5)


def _config() -> dict[str, Any]:
    with SCHEDULES.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


@pytest.mark.parametrize(
    ("tz_name", "offset", "expected"),
    [
        ("Nowhere/Nothing", "+05:00", timedelta(hours=5)),  # zone missing
        ("Asia/Almaty", "+04:00", timedelta(hours=4)),  # zone disagrees (stale data)
    ],
)
def test_timezone_fallback_to_fixed_offset(tz_name: str, offset: str, expected: timedelta) -> None:
    config = _config()
    config["timezone"] = tz_name
    config["utc_offset"] = offset
    c = Calendar(config)
    assert c.tz.utcoffset(None) == expected


def test_naive_datetime_rejected(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        cal.status_at("duplicate.psc", datetime(2026, 12, 10, 12, 0))  # noqa: DTZ001


def test_load_explicit_path_and_cite() -> None:
    c = Calendar.load(SCHEDULES)
    assert c.cite("duplicate.psc") == {"standard": "duplicate", "clause": 8, "sub": 2}
    assert c.cite("grant.portal") == {"standard": "grant", "clause": 8, "sub": 2}


# --------------------------------------------------------------------- holidays


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 12, 16), True),  # Independence Day
        (date(2026, 12, 17), False),  # no longer a holiday since 2022
        (date(2026, 1, 1), True),
        (date(2026, 1, 2), True),
        (date(2026, 1, 3), False),  # Saturday, ordinary
        (date(2026, 3, 21), True),  # Nauryz
        (date(2026, 3, 22), True),
        (date(2026, 3, 23), True),
        (date(2026, 3, 24), True),  # Nauryz observed (21 fell on Saturday)
        (date(2026, 3, 25), True),  # Nauryz observed (22 fell on Sunday)
        (date(2026, 3, 26), False),
        (date(2026, 3, 9), True),  # Women's Day observed (8 March is Sunday)
        (date(2025, 1, 3), True),  # transferred day off (government decree)
        (date(2027, 1, 4), True),  # New Year observed (2 Jan 2027 is Saturday)
        (date(2026, 12, 13), False),  # a plain Sunday is not a holiday
    ],
)
def test_is_holiday(cal: Calendar, d: date, expected: bool) -> None:
    assert cal.is_holiday(d) is expected


@pytest.mark.parametrize(
    ("d", "lang", "expected"),
    [
        (date(2026, 12, 16), "kk", "Тәуелсіздік күні"),
        (date(2026, 12, 16), "en_US", "Independence Day"),
        (date(2026, 12, 16), "en", "Independence Day"),
        (date(2026, 12, 16), "ru", "День Независимости"),  # via data/holidays-ru.yml
        (date(2026, 3, 21), "kk", "Наурыз мейрамы"),
        (date(2026, 3, 24), "en_US", "Nowruz Holiday (observed)"),
        (date(2026, 12, 17), "kk", None),
        (date(2025, 1, 3), "ru", "Выходной день (перенесён с 05.01.2025)"),
        (date(2026, 3, 23), "ru", "Наурыз мейрамы"),
    ],
)
def test_holiday_name(cal: Calendar, d: date, lang: str, expected: str | None) -> None:
    assert cal.holiday_name(d, lang) == expected


# ------------------------------------------------------------ working days/hours


@pytest.mark.parametrize(
    ("place", "d", "expected"),
    [
        ("duplicate.provider", date(2026, 12, 12), True),  # Saturday
        ("duplicate.provider", date(2026, 12, 13), False),  # Sunday
        ("duplicate.provider", date(2026, 12, 16), False),  # holiday
        ("duplicate.psc", date(2026, 12, 12), True),
        ("duplicate.psc", date(2026, 12, 13), False),
        ("grant.provider", date(2026, 1, 3), True),  # Saturday after New Year
        ("grant.provider", date(2026, 3, 24), False),  # Nauryz observed
        ("duplicate.portal", date(2026, 12, 13), False),  # provider's week decides
        ("duplicate.portal", date(2026, 12, 12), True),
    ],
)
def test_is_working_day(cal: Calendar, place: str, d: date, expected: bool) -> None:
    assert cal.is_working_day(place, d) is expected


@pytest.mark.parametrize(
    ("place", "d", "expected"),
    [
        ("duplicate.provider", date(2026, 12, 14), [(time(9), time(13)), (time(14), time(18))]),
        ("duplicate.provider", date(2026, 12, 12), [(time(9), time(13)), (time(14), time(18))]),
        (
            "grant.provider",
            date(2026, 12, 14),
            [(time(9), time(13)), (time(14, 30), time(18, 30))],
        ),
        ("duplicate.psc", date(2026, 12, 14), [(time(9), time(20))]),
        ("duplicate.psc", date(2026, 12, 13), []),  # Sunday
        ("duplicate.provider", date(2026, 12, 16), []),  # holiday
        ("duplicate.portal", date(2026, 12, 13), [(time(0), time(23, 59, 59))]),
        ("grant.portal", date(2026, 12, 16), [(time(0), time(23, 59, 59))]),
    ],
)
def test_opening_hours(
    cal: Calendar, place: str, d: date, expected: list[tuple[time, time]]
) -> None:
    assert cal.opening_hours(place, d) == expected


@pytest.mark.parametrize(
    ("place", "d", "expected"),
    [
        ("duplicate.provider", date(2026, 12, 11), date(2026, 12, 12)),  # Fri -> Sat
        ("duplicate.provider", date(2026, 12, 12), date(2026, 12, 14)),  # Sat -> Mon
        ("duplicate.psc", date(2026, 12, 15), date(2026, 12, 17)),  # skips 16 Dec
        ("duplicate.psc", date(2026, 3, 20), date(2026, 3, 26)),  # Nauryz block
        ("grant.provider", date(2026, 12, 31), date(2027, 1, 5)),  # 1, 2, (3 Sun), 4 obs.
        ("duplicate.portal", date(2026, 12, 12), date(2026, 12, 14)),
    ],
)
def test_next_working_day(cal: Calendar, place: str, d: date, expected: date) -> None:
    assert cal.next_working_day(place, d) == expected


# ------------------------------------------------------------------- status_at


@pytest.mark.parametrize(
    ("place", "moment", "is_open", "reason", "next_open", "closes_at"),
    [
        # lunch breaks
        (DP, at(2026, 12, 14, 13, 30), False, "lunch", at(2026, 12, 14, 14), None),
        (DP, at(2026, 12, 14, 14, 0), True, "open", None, at(2026, 12, 14, 18)),
        (GP, at(2026, 12, 14, 14, 15), False, "lunch", at(2026, 12, 14, 14, 30), None),
        (GP, at(2026, 12, 14, 14, 45), True, "open", None, at(2026, 12, 14, 18, 30)),
        (GP, at(2026, 12, 14, 12, 0), True, "open", None, at(2026, 12, 14, 13)),
        # ЦОН evening
        (PSC, at(2026, 12, 10, 19, 30), True, "open", None, at(2026, 12, 10, 20)),
        (PSC, at(2026, 12, 10, 20, 5), False, "after_hours", at(2026, 12, 11, 9), None),
        # Saturday open, then the weekend
        (DP, at(2026, 12, 12, 10, 0), True, "open", None, at(2026, 12, 12, 13)),
        (PSC, at(2026, 12, 12, 19, 0), True, "open", None, at(2026, 12, 12, 20)),
        (DP, at(2026, 12, 12, 18, 30), False, "after_hours", at(2026, 12, 14, 9), None),
        (PSC, at(2026, 12, 12, 20, 5), False, "after_hours", at(2026, 12, 14, 9), None),
        # Sunday: closed everywhere but the portal
        (DP, at(2026, 12, 13, 12, 0), False, "day_off", at(2026, 12, 14, 9), None),
        (PSC, at(2026, 12, 13, 12, 0), False, "day_off", at(2026, 12, 14, 9), None),
        (GP, at(2026, 12, 13, 12, 0), False, "day_off", at(2026, 12, 14, 9), None),
        (DPORT, at(2026, 12, 13, 12, 0), True, "open", None, None),
        (GPORT, at(2026, 12, 13, 3, 0), True, "open", None, None),
        # before hours
        (DP, at(2026, 12, 14, 8, 0), False, "before_hours", at(2026, 12, 14, 9), None),
        # holidays
        (PSC, at(2026, 12, 15, 20, 5), False, "after_hours", at(2026, 12, 17, 9), None),
        (PSC, at(2026, 12, 16, 11, 0), False, "holiday", at(2026, 12, 17, 9), None),
        (PSC, at(2026, 3, 20, 20, 5), False, "after_hours", at(2026, 3, 26, 9), None),
        (GP, at(2026, 3, 24, 10, 0), False, "holiday", at(2026, 3, 26, 9), None),
        (DP, at(2027, 1, 2, 10, 0), False, "holiday", at(2027, 1, 5, 9), None),
        (DPORT, at(2026, 12, 16, 11, 0), True, "open", None, None),
        # a UTC instant: 15:05Z = 20:05 in Almaty
        (
            PSC,
            datetime(2026, 12, 10, 15, 5, tzinfo=UTC),
            False,
            "after_hours",
            at(2026, 12, 11, 9),
            None,
        ),
    ],
)
def test_status_at(
    cal: Calendar,
    place: str,
    moment: datetime,
    is_open: bool,
    reason: str,
    next_open: datetime | None,
    closes_at: datetime | None,
) -> None:
    st = cal.status_at(place, moment)
    assert (st.open, st.reason) == (is_open, reason)
    assert st.next_open == next_open
    assert st.closes_at == closes_at


def test_status_holiday_name(cal: Calendar) -> None:
    st = cal.status_at("duplicate.provider", at(2026, 12, 16, 11, 0), lang="kk")
    assert st.holiday == "Тәуелсіздік күні"
    st = cal.status_at("duplicate.provider", at(2026, 12, 16, 11, 0), lang="en_US")
    assert st.holiday == "Independence Day"
    assert cal.status_at("duplicate.provider", at(2026, 12, 14, 11, 0)).holiday is None


# ------------------------------------------------------------------ acceptance


@pytest.mark.parametrize(
    ("place", "moment", "expected"),
    [
        ("duplicate.portal", at(2026, 12, 11, 22, 0), date(2026, 12, 12)),  # Fri night -> Sat
        ("duplicate.portal", at(2026, 12, 12, 21, 0), date(2026, 12, 14)),  # Sat night -> Mon
        ("duplicate.portal", at(2026, 12, 13, 10, 0), date(2026, 12, 14)),  # Sunday -> Mon
        ("duplicate.portal", at(2026, 12, 15, 22, 0), date(2026, 12, 17)),  # eve of 16 Dec
        ("duplicate.portal", at(2026, 12, 16, 10, 0), date(2026, 12, 17)),  # on the holiday
        ("duplicate.portal", at(2026, 12, 31, 19, 0), date(2027, 1, 5)),  # New Year block
        ("duplicate.portal", at(2026, 12, 14, 13, 30), date(2026, 12, 14)),  # lunch: same day
        ("duplicate.portal", at(2026, 12, 14, 7, 0), date(2026, 12, 14)),  # early: same day
        ("duplicate.portal", at(2026, 12, 14, 17, 59), date(2026, 12, 14)),
        ("duplicate.portal", at(2026, 12, 14, 18, 0), date(2026, 12, 15)),
        ("grant.portal", at(2026, 7, 25, 18, 20), date(2026, 7, 25)),  # grant closes 18:30
        ("grant.portal", at(2026, 7, 25, 18, 40), date(2026, 7, 27)),
        ("duplicate.psc", at(2026, 12, 10, 19, 30), date(2026, 12, 10)),
        ("duplicate.psc", at(2026, 12, 10, 20, 5), date(2026, 12, 11)),
        ("duplicate.provider", at(2026, 12, 14, 13, 30), date(2026, 12, 14)),
        # 16:30Z = 21:30 Almaty on a Friday
        ("duplicate.portal", datetime(2026, 12, 11, 16, 30, tzinfo=UTC), date(2026, 12, 12)),
    ],
)
def test_accepted_on(cal: Calendar, place: str, moment: datetime, expected: date) -> None:
    assert cal.accepted_on(place, moment) == expected


# ------------------------------------------------------------- duplicate terms


@pytest.mark.parametrize(
    ("channel", "moment", "expected"),
    [
        # provider: acceptance day is day 1 -> +29
        (
            "provider",
            at(2026, 2, 2, 10, 0),
            DueDate(date(2026, 2, 2), date(2026, 3, 3), None, ["acceptance_day_counted"]),
        ),
        (
            "provider",
            at(2026, 12, 14, 10, 0),
            DueDate(date(2026, 12, 14), date(2027, 1, 12), None, ["acceptance_day_counted"]),
        ),
        # same moment, three channels
        (
            "provider",
            at(2026, 12, 10, 11, 0),
            DueDate(date(2026, 12, 10), date(2027, 1, 8), None, ["acceptance_day_counted"]),
        ),
        (
            "psc",
            at(2026, 12, 10, 11, 0),
            DueDate(
                date(2026, 12, 10),
                date(2027, 1, 9),
                date(2027, 1, 8),
                ["psc_acceptance_day_not_counted"],
            ),
        ),
        (
            "portal",
            at(2026, 12, 10, 11, 0),
            DueDate(date(2026, 12, 10), date(2027, 1, 8), None, ["acceptance_day_counted"]),
        ),
        # ЦОН at 19:30 (open), term crosses 16 Dec and the New Year holidays
        (
            "psc",
            at(2026, 12, 10, 19, 30),
            DueDate(
                date(2026, 12, 10),
                date(2027, 1, 9),
                date(2027, 1, 8),
                ["psc_acceptance_day_not_counted"],
            ),
        ),
        # ЦОН after closing: accepted next day, due lands on a Sunday (not moved)
        (
            "psc",
            at(2026, 12, 10, 20, 5),
            DueDate(
                date(2026, 12, 11),
                date(2027, 1, 10),
                date(2027, 1, 9),
                [
                    "moved_to_next_working_day",
                    "psc_acceptance_day_not_counted",
                    "due_falls_on_non_working_day",
                ],
            ),
        ),
        # portal Friday night -> Saturday; +29 = Sunday 10 Jan 2027
        (
            "portal",
            at(2026, 12, 11, 22, 0),
            DueDate(
                date(2026, 12, 12),
                date(2027, 1, 10),
                None,
                [
                    "moved_to_next_working_day",
                    "acceptance_day_counted",
                    "due_falls_on_non_working_day",
                ],
            ),
        ),
        # portal on the eve of Independence Day
        (
            "portal",
            at(2026, 12, 15, 22, 0),
            DueDate(
                date(2026, 12, 17),
                date(2027, 1, 15),
                None,
                ["moved_to_next_working_day", "acceptance_day_counted"],
            ),
        ),
    ],
)
def test_duplicate_due_date(
    cal: Calendar, channel: str, moment: datetime, expected: DueDate
) -> None:
    assert cal.duplicate_due_date(channel, moment) == expected


def test_duplicate_due_date_bad_channel(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        cal.duplicate_due_date("mail", at(2026, 12, 10, 11, 0))


# ------------------------------------------------------------------ complaints


@pytest.mark.parametrize(
    ("start", "n", "week", "expected"),
    [
        (date(2026, 12, 11), 5, "five_day", date(2026, 12, 21)),  # skips 16 Dec
        (date(2026, 12, 11), 5, "six_day", date(2026, 12, 18)),  # Sat 12 counts
        (date(2026, 3, 20), 1, "five_day", date(2026, 3, 26)),  # Nauryz block
        (date(2026, 12, 14), 0, "five_day", date(2026, 12, 14)),
        (date(2026, 12, 13), 1, "five_day", date(2026, 12, 14)),  # registered on Sunday
    ],
)
def test_add_working_days(cal: Calendar, start: date, n: int, week: str, expected: date) -> None:
    assert cal.add_working_days(start, n, week=week) == expected


@pytest.mark.parametrize(
    ("registered", "authority", "expected"),
    [
        (date(2026, 12, 11), "provider", date(2026, 12, 21)),
        (date(2026, 12, 15), "psc", date(2026, 12, 23)),  # 17, 18, 21, 22, 23
        # 14,15,17,18 | 21-25 | 28-31 = 13; 1 Jan, 2 Sat, 3 Sun, 4 obs. off; 5, 6
        (date(2026, 12, 11), "quality", date(2027, 1, 6)),
    ],
)
def test_complaint_due(cal: Calendar, registered: date, authority: str, expected: date) -> None:
    assert cal.complaint_due(registered, authority) == expected


def test_complaint_bad_authority(cal: Calendar) -> None:
    with pytest.raises(ValueError):
        cal.complaint_due(date(2026, 12, 11), "court")


# ----------------------------------------------------------------------- grant


def test_grant_window_and_results(cal: Calendar) -> None:
    assert cal.grant_window(2026) == (date(2026, 7, 23), date(2026, 7, 31))
    assert cal.grant_results_by(2026) == date(2026, 8, 15)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 1, 10), "before"),
        (date(2026, 7, 22), "before"),
        (date(2026, 7, 23), "open"),
        (date(2026, 7, 31), "open"),
        (date(2026, 8, 1), "closed_waiting_results"),
        (date(2026, 8, 15), "closed_waiting_results"),
        (date(2026, 8, 16), "after"),
        (date(2026, 12, 31), "after"),
    ],
)
def test_grant_phase(cal: Calendar, today: date, expected: str) -> None:
    assert cal.grant_phase(today) == expected
