"""Booking on PostgreSQL under load: 50 citizens at once, each doing what
the dialogue does at "confirm" (read the day's free windows, book the
earliest free slot; on "just taken", read again and take the next), against
the same few popular offices so that they collide on the same windows.

Figures: bookings a second, the latency of one booking (read + book, the
retries after a lost race included; p50/p99), races lost, and the count of
overbooked slots (more active bookings than windows) and of the bookings
beyond the windows (overbooked windows), which must both be 0.

The database is TEST_DATABASE_URL, else DATABASE_URL when it is PostgreSQL,
else the local server; the tables live in a schema of their own, dropped
at the end.

    python -m bench.booking        (or, with the others: make bench)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import statistics
import sys
import time as clock
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from actions.booking import BookingRules, Office, Offices
from actions.booking.slots import bookable_slots, candidate_days, free_slots
from knowledge.calendar import Calendar
from storage.booking import ACTIVE, Booking, BookingStore, SlotFull
from storage.db import create_schema, make_sessionmaker

LOCAL_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CITIZENS = 50  # at once
BOOKINGS_EACH = 20  # each "citizen" task books this many times (as different people)
POPULAR = ("ast-psc2", "alm-uni1", "ast-uni1")  # two windows each: many collisions


def database_url() -> str:
    for name in ("TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith("postgresql"):
            return url
    return LOCAL_URL


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run(citizens: int = CITIZENS, each: int = BOOKINGS_EACH) -> dict[str, Any]:
    url = database_url()
    schema = f"bench_booking_{secrets.token_hex(4)}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(
        url,
        connect_args={"server_settings": {"search_path": schema}},
        pool_size=citizens,
        max_overflow=5,
    )
    try:
        await create_schema(engine)
        result = await _measure(BookingStore(make_sessionmaker(engine)), citizens, each)
        async with engine.connect() as conn:
            counts = await conn.execute(
                select(Booking.office_id, Booking.starts_at, func.count())
                .where(Booking.status == ACTIVE)
                .group_by(Booking.office_id, Booking.starts_at)
            )
            windows = {o.id: o.windows for o in Offices.load().all()}
            over = [n - windows[o] for o, _, n in counts.all() if n > windows[o]]
            # Slots holding more bookings than windows, and the bookings beyond
            # the windows: both must be 0.
            result["overbooked_slots"] = len(over)
            result["overbooked_windows"] = sum(over)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
    result = {"database": "postgresql", "citizens_at_once": citizens, **result}
    # `make bench` fails on any overbooking (bench/__main__.py reads "ok").
    result["ok"] = result["overbooked_slots"] == 0 and result["overbooked_windows"] == 0
    _print(result)
    return result


async def _measure(store: BookingStore, citizens: int, each: int) -> dict[str, Any]:
    offices = Offices.load()
    rules = BookingRules.load()
    calendar = Calendar.load()
    # A fixed Wednesday morning: the same slots on every run.
    now = datetime(2026, 12, 9, 8, 0, tzinfo=calendar.tz)
    popular = [o for o in (offices.get(i) for i in POPULAR) if o is not None]
    open_days = {o.id: candidate_days(calendar, o, now, rules) for o in popular}
    users = itertools.count(10**9)
    latencies: list[float] = []
    lost = 0
    full = 0

    async def choose(office: Office, rng: random.Random) -> datetime | None:
        """What the day and time steps offer, and the citizen's pick: a day
        with free windows, one of its first free times (people like early)."""
        while open_days[office.id]:
            day = rng.choice(open_days[office.id][:3])
            start = datetime.combine(day, time(0), tzinfo=calendar.tz)
            taken = await store.taken(office.id, start, start + timedelta(days=1))
            slots = bookable_slots(calendar, office, day, now, rules)
            free = free_slots(slots, taken, office.windows)
            if free:
                return rng.choice(free[:4])
            with contextlib.suppress(ValueError):
                open_days[office.id].remove(day)
        return None

    async def citizen(n: int) -> None:
        nonlocal lost, full
        rng = random.Random(n)
        for i in range(each):
            office = popular[(n + i) % len(popular)]
            user = next(users)
            started = clock.perf_counter()
            while True:
                slot = await choose(office, rng)
                if slot is None:
                    full += 1
                    break
                try:
                    await store.book(
                        user_id=user,
                        service="duplicate",
                        office_id=office.id,
                        windows=office.windows,
                        starts_at=slot,
                        lang="ru",
                        key=f"{user}:{secrets.token_hex(4)}",
                        reminders=rules.reminders,
                        now=now,
                    )
                except SlotFull:
                    lost += 1  # taken between the question and "confirm": pick again
                    continue
                latencies.append(clock.perf_counter() - started)
                break

    # One citizen alone first: the cost of a booking without any queue.
    alone: list[float] = []
    quiet = offices.get("shy-psc1")
    assert quiet is not None
    rng = random.Random(-1)
    open_days[quiet.id] = candidate_days(calendar, quiet, now, rules)
    for _ in range(50):
        slot = await choose(quiet, rng)
        assert slot is not None
        user = next(users)
        started = clock.perf_counter()
        await store.book(
            user_id=user,
            service="duplicate",
            office_id=quiet.id,
            windows=quiet.windows,
            starts_at=slot,
            lang="ru",
            key=f"{user}:{secrets.token_hex(4)}",
            reminders=rules.reminders,
            now=now,
        )
        alone.append(clock.perf_counter() - started)

    started = clock.perf_counter()
    await asyncio.gather(*(citizen(n) for n in range(citizens)))
    elapsed = clock.perf_counter() - started
    return {
        "bookings": len(latencies),
        "seconds": round(elapsed, 2),
        "bookings_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 1),
            "p99": round(percentile(latencies, 99) * 1000, 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1),
        },
        "alone_ms": {"p50": round(percentile(alone, 50) * 1000, 1)},
        "races_lost": lost,
        "no_free_slot": full,
    }


def _print(result: dict[str, Any]) -> None:
    lat = result["latency_ms"]
    sys.stderr.write(
        f"booking: {result['bookings']} bookings by {result['citizens_at_once']} citizens at once"
        f" in {result['seconds']} s = {result['bookings_per_s']}/s;"
        f" latency p50 {lat['p50']} ms, p99 {lat['p99']} ms"
        f" (alone: {result['alone_ms']['p50']} ms); races lost {result['races_lost']};"
        f" overbooked slots {result['overbooked_slots']},"
        f" windows {result['overbooked_windows']}\n"
    )


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2) + "\n")
