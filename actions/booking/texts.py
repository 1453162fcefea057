"""How bookings read in both languages: shared by the flow, the reminders
and the staff list. The words are in locales/*/booking.ftl."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo

from actions.booking.config import Office, Offices
from actions.i18n import Translator
from storage.booking import Booking


def office_label(t: Translator, lang: str, office: Office) -> str:
    name = office.name[lang]
    return f"{name} {t(lang, 'bk-sample')}" if office.sample else name


def day_label(t: Translator, lang: str, d: date) -> str:
    """Short, for a button: "пт 18.12"."""
    return f"{t(lang, f'bk-wd-{d.weekday()}')} {d:%d.%m}"


def date_text(t: Translator, lang: str, d: date) -> str:
    return t(lang, "bk-date", weekday=t(lang, f"bk-wd-{d.weekday()}"), date=f"{d:%d.%m.%Y}")


def when_text(t: Translator, lang: str, at: datetime) -> str:
    return t(lang, "bk-when", day=date_text(t, lang, at.date()), time=f"{at:%H:%M}")


def offsets_text(t: Translator, lang: str, offsets: Sequence[timedelta]) -> str:
    """ "1 день и 1 час" / "1 күн және 1 сағат"."""
    parts: list[str] = []
    for off in offsets:
        minutes = int(off.total_seconds() // 60)
        if minutes % 1440 == 0:
            parts.append(t(lang, "bk-days", n=minutes // 1440))
        elif minutes % 60 == 0:
            parts.append(t(lang, "bk-hours", n=minutes // 60))
        else:
            parts.append(t(lang, "bk-minutes", n=minutes))
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {t(lang, 'bk-and')} " + parts[-1]


def booking_line(t: Translator, lang: str, booking: Booking, offices: Offices, tz: tzinfo) -> str:
    office = offices.get(booking.office_id)
    return t(
        lang,
        "bk-line",
        code=booking.code,
        when=when_text(t, lang, booking.starts_at.astimezone(tz)),
        office=office_label(t, lang, office) if office else booking.office_id,
        address=office.address[lang] if office else "",
    )


def reminder_text(t: Translator, booking: Booking, offices: Offices, tz: tzinfo) -> str:
    lang = booking.lang if booking.lang in ("kk", "ru") else "kk"
    office = offices.get(booking.office_id)
    return t(
        lang,
        "bk-reminder",
        code=booking.code,
        when=when_text(t, lang, booking.starts_at.astimezone(tz)),
        office=office_label(t, lang, office) if office else booking.office_id,
        address=office.address[lang] if office else "",
    )
