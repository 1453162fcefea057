"""Offices (data/offices.yml) and booking rules (data/booking.yml).

Operators edit both files; this module reads and validates them. Nothing is
read at import time: use `Offices.load()` and `BookingRules.load()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import yaml

from nlu.normalize import fold

DATA = Path(__file__).resolve().parents[2] / "data"
OFFICES_PATH = DATA / "offices.yml"
RULES_PATH = DATA / "booking.yml"

KINDS = ("provider", "psc")
LANGS = ("kk", "ru")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
_OFFSET_RE = re.compile(r"^(\d+)\s*([dhm])$")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


class BookingConfigError(ValueError):
    def __init__(self, source: Path | str, message: str) -> None:
        super().__init__(f"{source}: {message}")


def _read(path: Path) -> Mapping[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise BookingConfigError(path, "top level must be a mapping")
    return data


def _texts(value: Any, path: Path, what: str) -> Mapping[str, str]:
    if not isinstance(value, dict) or any(not str(value.get(lang, "")).strip() for lang in LANGS):
        raise BookingConfigError(path, f"{what}: needs non-empty kk and ru")
    return {lang: str(value[lang]).strip() for lang in LANGS}


def _phrases(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(fold(str(v)) for v in values if fold(str(v))))


def matches(phrases: Iterable[str], folded: str) -> bool:
    """True when one of the (folded) phrases starts a word of `folded`;
    phrases of up to three letters must be whole words ("да", "ок")."""
    for phrase in phrases:
        tail = r"(?!\w)" if len(phrase) <= 3 else ""
        if re.search(r"(?<!\w)" + re.escape(phrase) + tail, folded):
            return True
    return False


@dataclass(frozen=True)
class Office:
    id: str
    city: str
    kind: str  # provider | psc: the channel of the knowledge base
    services: tuple[str, ...]
    place: str  # data/schedules.yml key whose opening hours apply
    slot_minutes: int
    windows: int
    name: Mapping[str, str] = field(hash=False, compare=False)
    address: Mapping[str, str] = field(hash=False, compare=False)
    sample: bool = False
    active: bool = True

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)


@dataclass(frozen=True)
class City:
    id: str
    name: Mapping[str, str] = field(hash=False, compare=False)
    match: tuple[str, ...] = ()
    offices: tuple[Office, ...] = ()


class Offices:
    """The office catalogue, by city."""

    def __init__(self, cities: Iterable[City]) -> None:
        self.cities: tuple[City, ...] = tuple(cities)
        self._offices = {o.id: o for c in self.cities for o in c.offices}
        self._cities = {c.id: c for c in self.cities}

    @classmethod
    def load(cls, path: Path | None = None) -> Offices:
        path = path or OFFICES_PATH
        raw = _read(path).get("cities")
        if not isinstance(raw, list) or not raw:
            raise BookingConfigError(path, "`cities` must be a non-empty list")
        cities: list[City] = []
        seen: set[str] = set()
        for c in raw:
            cid = str(c.get("id", ""))
            if not _ID_RE.match(cid) or cid in seen:
                raise BookingConfigError(path, f"city id {cid!r}: missing, malformed or repeated")
            seen.add(cid)
            offices = tuple(_office(o, cid, path, seen) for o in c.get("offices") or [])
            if not offices:
                raise BookingConfigError(path, f"city {cid}: no offices")
            cities.append(
                City(cid, _texts(c.get("name"), path, cid), _phrases(c.get("match") or []), offices)
            )
        return cls(cities)

    def get(self, office_id: str) -> Office | None:
        return self._offices.get(office_id)

    def city(self, city_id: str) -> City | None:
        return self._cities.get(city_id)

    def all(self) -> list[Office]:
        return list(self._offices.values())

    def bookable_in(self, city_id: str, service: str, kind: str | None = None) -> list[Office]:
        city = self._cities.get(city_id)
        if city is None:
            return []
        return [
            o
            for o in city.offices
            if o.active and service in o.services and (kind is None or o.kind == kind)
        ]

    def city_in_text(self, folded: str) -> City | None:
        for city in self.cities:
            if matches(city.match, folded):
                return city
        return None

    def check_places(self, known: Iterable[str]) -> None:
        """Every office's `place` must be an office place of schedules.yml."""
        places = set(known)
        for office in self._offices.values():
            if office.place not in places:
                raise BookingConfigError(
                    OFFICES_PATH, f"office {office.id}: unknown place {office.place!r}"
                )


def _office(raw: Mapping[str, Any], city: str, path: Path, seen: set[str]) -> Office:
    oid = str(raw.get("id", ""))
    if not _ID_RE.match(oid) or oid in seen:
        raise BookingConfigError(path, f"office id {oid!r}: missing, malformed or repeated")
    seen.add(oid)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BookingConfigError(path, f"office {oid}: kind must be one of {KINDS}")
    slot, windows = raw.get("slot_minutes"), raw.get("windows")
    if not isinstance(slot, int) or not 5 <= slot <= 240:
        raise BookingConfigError(path, f"office {oid}: slot_minutes must be 5..240")
    if not isinstance(windows, int) or not 1 <= windows <= 50:
        raise BookingConfigError(path, f"office {oid}: windows must be 1..50")
    services = tuple(str(s) for s in raw.get("services") or [])
    if not services:
        raise BookingConfigError(path, f"office {oid}: no services")
    return Office(
        id=oid,
        city=city,
        kind=str(kind),
        services=services,
        place=str(raw.get("place", "")),
        slot_minutes=slot,
        windows=windows,
        name=_texts(raw.get("name"), path, f"{oid}.name"),
        address=_texts(raw.get("address"), path, f"{oid}.address"),
        sample=bool(raw.get("sample", False)),
        active=bool(raw.get("active", True)),
    )


@dataclass(frozen=True)
class BookingRules:
    horizon_days: int
    min_notice: timedelta
    reminders: tuple[timedelta, ...]  # largest first
    bookable: frozenset[str]
    live_queue: frozenset[str]
    day_parts: Mapping[str, tuple[time, time]] = field(hash=False, compare=False)
    times_per_page: int = 16
    draft_idle: timedelta = timedelta(minutes=30)
    staff_language: str = "ru"
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def load(cls, path: Path | None = None) -> BookingRules:
        path = path or RULES_PATH
        raw = _read(path)
        horizon = raw.get("horizon_days")
        if not isinstance(horizon, int) or not 0 <= horizon <= 366:
            raise BookingConfigError(path, "horizon_days must be 0..366")
        if raw.get("active_per_service", 1) != 1:
            raise BookingConfigError(path, "active_per_service: only 1 is supported")
        reminders: list[timedelta] = []
        for item in raw.get("reminders") or []:
            m = _OFFSET_RE.match(str(item).strip())
            if not m or int(m.group(1)) <= 0:
                raise BookingConfigError(path, f"reminder {item!r}: write e.g. 1d, 1h, 30m")
            reminders.append(int(m.group(1)) * _UNITS[m.group(2)])
        if len(set(reminders)) != len(reminders):
            raise BookingConfigError(path, "reminders: repeated offset")
        parts: dict[str, tuple[time, time]] = {}
        for name, (start, end) in (raw.get("day_parts") or {}).items():
            parts[str(name)] = (time.fromisoformat(str(start)), time.fromisoformat(str(end)))
        for needed in ("morning", "afternoon"):
            if needed not in parts:
                raise BookingConfigError(path, f"day_parts.{needed} missing")
        staff_lang = str(raw.get("staff_language", "ru"))
        if staff_lang not in LANGS:
            raise BookingConfigError(path, "staff_language must be kk or ru")
        words = {str(k): _phrases(v or []) for k, v in (raw.get("words") or {}).items()}
        return cls(
            horizon_days=horizon,
            min_notice=timedelta(minutes=int(raw.get("min_notice_minutes", 0))),
            reminders=tuple(sorted(reminders, reverse=True)),
            bookable=frozenset(str(s) for s in raw.get("bookable") or []),
            live_queue=frozenset(str(s) for s in raw.get("live_queue") or []),
            day_parts=parts,
            times_per_page=max(4, int(raw.get("times_per_page", 16))),
            draft_idle=timedelta(minutes=int(raw.get("draft_idle_minutes", 30))),
            staff_language=staff_lang,
            words=words,
        )

    def said(self, kind: str, folded: str) -> bool:
        return matches(self.words.get(kind, ()), folded)
