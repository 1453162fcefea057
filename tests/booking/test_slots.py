"""Slot rules with concrete dates: opening hours, lunch, Sundays, public
holidays, the past and the horizon; and the data files they come from."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from actions.booking import BookingRules, Offices
from actions.booking.slots import (
    bookable_slots,
    candidate_days,
    day_problem,
    day_slots,
    free_slots,
    office_places,
    slot_at,
)
from actions.booking.texts import office_label
from actions.i18n import Translator
from knowledge.calendar import Calendar
from tests.booking.conftest import ALMATY, WEDNESDAY_11

MONDAY = date(2026, 12, 14)
SUNDAY = date(2026, 12, 13)
INDEPENDENCE_DAY = date(2026, 12, 16)


def at(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=ALMATY)


def test_provider_slots_skip_lunch(calendar: Calendar, offices: Offices) -> None:
    uni = offices.get("ast-uni1")  # duplicate.provider: 09-18, lunch 13-14, 20-minute slots
    assert uni is not None and uni.slot_minutes == 20
    slots = day_slots(calendar, uni, MONDAY)
    assert slots[0] == at(MONDAY, 9) and slots[-1] == at(MONDAY, 17, 40)
    assert at(MONDAY, 12, 40) in slots  # ends 13:00, at lunch's start
    assert not [s for s in slots if time(13) <= s.time() < time(14)]
    assert at(MONDAY, 14) in slots
    assert len(slots) == 24


def test_psc_has_no_lunch_and_closes_at_eight(calendar: Calendar, offices: Offices) -> None:
    psc = offices.get("ast-psc1")  # duplicate.psc: 09-20 without lunch, 15-minute slots
    assert psc is not None
    slots = day_slots(calendar, psc, MONDAY)
    assert at(MONDAY, 13) in slots and at(MONDAY, 13, 45) in slots
    assert slots[-1] == at(MONDAY, 19, 45) and len(slots) == 44


def test_a_slot_must_end_before_the_interval_does(calendar: Calendar, offices: Offices) -> None:
    uni = offices.get("ast-uni1")
    assert uni is not None
    odd = replace(uni, slot_minutes=25)
    slots = day_slots(calendar, odd, MONDAY)
    assert at(MONDAY, 12, 20) in slots  # 12:20-12:45
    assert at(MONDAY, 12, 45) not in slots  # would run into lunch
    assert slots[-1] == at(MONDAY, 17, 20)  # 17:20-17:45; 17:45 would end after 18:00


def test_no_slots_on_sunday_or_a_public_holiday(
    calendar: Calendar, offices: Offices, rules: BookingRules
) -> None:
    for office in offices.all():
        assert day_slots(calendar, office, SUNDAY) == []
        assert day_slots(calendar, office, INDEPENDENCE_DAY) == []
    psc = offices.get("alm-psc1")
    assert psc is not None
    assert day_problem(calendar, psc, SUNDAY, WEDNESDAY_11, rules) == "day_off"
    assert day_problem(calendar, psc, INDEPENDENCE_DAY, WEDNESDAY_11, rules) == "holiday"
    assert day_problem(calendar, psc, MONDAY, WEDNESDAY_11, rules) is None


def test_no_slots_in_the_past(calendar: Calendar, offices: Offices, rules: BookingRules) -> None:
    psc = offices.get("ast-psc1")
    assert psc is not None
    now = at(MONDAY, 11, 5)
    slots = bookable_slots(calendar, psc, MONDAY, now, rules)
    # 30 minutes' notice: the first bookable slot is 11:45.
    assert slots[0] == at(MONDAY, 11, 45)
    assert all(s >= now + rules.min_notice for s in slots)
    assert bookable_slots(calendar, psc, SUNDAY - timedelta(days=1), now, rules) == []
    assert day_problem(calendar, psc, date(2026, 12, 12), now, rules) == "past"
    evening = at(MONDAY, 19, 40)
    assert bookable_slots(calendar, psc, MONDAY, evening, rules) == []
    assert day_problem(calendar, psc, MONDAY, evening, rules) == "over"


def test_no_slots_beyond_the_horizon(
    calendar: Calendar, offices: Offices, rules: BookingRules
) -> None:
    psc = offices.get("shy-psc1")
    assert psc is not None and rules.horizon_days == 14
    last = date(2026, 12, 23)  # 9 December + 14 days
    assert bookable_slots(calendar, psc, last, WEDNESDAY_11, rules)
    assert bookable_slots(calendar, psc, last + timedelta(days=1), WEDNESDAY_11, rules) == []
    assert day_problem(calendar, psc, date(2026, 12, 24), WEDNESDAY_11, rules) == "beyond_horizon"
    days = candidate_days(calendar, psc, WEDNESDAY_11, rules)
    assert days[0] == date(2026, 12, 9) and days[-1] == last
    assert SUNDAY not in days and date(2026, 12, 20) not in days
    assert INDEPENDENCE_DAY not in days
    assert len(days) == 15 - 3  # two Sundays and the holiday


def test_afternoon_means_after_lunch(
    calendar: Calendar, offices: Offices, rules: BookingRules
) -> None:
    uni, psc = offices.get("alm-uni1"), offices.get("alm-psc1")
    assert uni is not None and psc is not None
    for office in (uni, psc):
        slots = bookable_slots(calendar, office, MONDAY, WEDNESDAY_11, rules, "afternoon")
        assert slots[0] == at(MONDAY, 14)
        morning = bookable_slots(calendar, office, MONDAY, WEDNESDAY_11, rules, "morning")
        assert morning[0] == at(MONDAY, 9) and morning[-1].time() < time(13)


def test_free_slots_count_windows() -> None:
    a, b = at(MONDAY, 9), at(MONDAY, 9, 15)
    assert free_slots([a, b], {a: 2}, windows=2) == [b]
    assert free_slots([a, b], {a: 1}, windows=2) == [a, b]
    # Aware datetimes in UTC (as stored) match the local slot starts.
    assert free_slots([a, b], {b.astimezone(UTC): 2}, windows=2) == [a]
    assert slot_at([a, b], "0915") == b and slot_at([a, b], "1000") is None
    assert slot_at([a, b], "xx") is None


def test_every_office_uses_an_office_place(calendar: Calendar, offices: Offices) -> None:
    offices.check_places(office_places(calendar))
    assert "duplicate.portal" not in office_places(calendar)
    cities = {c.id for c in offices.cities}
    assert {"ast", "alm", "shy"} <= cities
    for city in offices.cities:
        kinds = {o.kind for o in city.offices}
        assert kinds == {"provider", "psc"}, city.id


def test_sample_offices_say_so_in_both_languages(offices: Offices) -> None:
    t = Translator()
    for office in offices.all():
        assert office.sample  # nothing real ships until an operator edits the file
        for lang in ("kk", "ru"):
            assert "(үлгі / образец)" in office_label(t, lang, office)


def test_rules_come_from_the_file(rules: BookingRules) -> None:
    assert rules.horizon_days == 14
    assert rules.reminders == (timedelta(days=1), timedelta(hours=1))
    assert rules.bookable == {"duplicate"}
    assert rules.live_queue == {"grant", "social_support"}


def test_button_payloads_fit_telegram(offices: Offices) -> None:
    longest = max(len(f"bk:o:{o.id}".encode()) for o in offices.all())
    assert longest < 64
    assert len(b"bk:ok:0123abcd") < 64 and len(b"bk:rs:ABCDEF") < 64


def test_a_broken_offices_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "offices.yml"
    path.write_text(
        "cities:\n  - id: x\n    name: {kk: X, ru: X}\n    offices:\n"
        "      - {id: Bad Id, kind: psc, services: [duplicate], place: duplicate.psc,"
        " slot_minutes: 15, windows: 1, name: {kk: a, ru: a}, address: {kk: a, ru: a}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="office id"):
        Offices.load(path)
