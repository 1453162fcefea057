"""Guessing an applicant's IIN through the status lookup by number: three
wrong IINs per citizen in LOOKUP_WINDOW, whatever they press or type in
between (the lookup button again, /start, another flow)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.events import Event, Outcome
from actions.i18n import Translator
from actions.intake.flow import LOOKUP_TRIES, LOOKUP_WINDOW
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from storage.applications import Application, Applications
from tests.abuse.conftest import NOW, Clock, full_assistant
from tests.abuse.test_forged_callbacks import OWNER_IIN, text_of
from tests.abuse.test_retention import form
from tests.applications.support import make_iin
from tests.telegram.tg_support import new_id

T = Translator()


async def filed(sessions: async_sessionmaker[AsyncSession], owner: int) -> Application:
    applicant = dataclasses.replace(form(1), iin=OWNER_IIN)
    return await Applications(sessions).create(
        applicant, user_id=owner, lang="ru", channel="psc", due_date=NOW.date() + timedelta(10)
    )


async def look_up(assistant: Assistant, user: int, number: str, iin: str) -> Outcome:
    await assistant.handle(Event(user, button="app:lookup"))
    await assistant.handle(Event(user, text=number))
    return await assistant.handle(Event(user, text=iin))


async def test_wrong_iins_are_counted_across_lookups(
    sessions: async_sessionmaker[AsyncSession],
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
) -> None:
    clock = Clock(NOW)
    assistant = full_assistant(sessions, light, kb, calendar, clock)
    owner, intruder = new_id(), new_id()
    app = await filed(sessions, owner)
    await assistant.handle(Event(intruder, button="lang:ru"))

    guesses = iter(make_iin(date(1970, 1, 1), serial=2000 + n * 10) for n in range(20))
    for n in range(LOOKUP_TRIES):
        answer = await look_up(assistant, intruder, app.number, next(guesses))
        key = "intake-lookup-too-many" if n == LOOKUP_TRIES - 1 else "intake-lookup-not-found"
        assert T("ru", key) in text_of(answer)
    # The lookup button again, /start, a booking in between: still three, not three more.
    for way in ("button", "start", "booking"):
        if way == "start":
            await assistant.start(intruder)
            await assistant.handle(Event(intruder, button="lang:ru"))
        if way == "booking":
            await assistant.handle(Event(intruder, button="ask:book_queue"))
        answer = await assistant.handle(Event(intruder, button="app:lookup"))
        assert T("ru", "intake-lookup-locked") in text_of(answer), way
        # Even the right IIN now shows nothing.
        await assistant.handle(Event(intruder, text=app.number))
        answer = await assistant.handle(Event(intruder, text=OWNER_IIN))
        assert app.number not in text_of(answer), way
    # Typed as one question too.
    await assistant.handle(Event(intruder, button="cancel"))
    answer = await assistant.handle(
        Event(intruder, text=f"статус заявления {app.number} иин {OWNER_IIN}")
    )
    assert T("ru", "intake-lookup-locked") in text_of(answer)
    assert app.number not in text_of(answer)

    # The owner is not concerned: their own application needs no IIN.
    await assistant.handle(Event(owner, button="lang:ru"))
    mine = await assistant.handle(Event(owner, text=f"проверить статус {app.number}"))
    assert app.number in text_of(mine)

    # After the window, the lookup works again (with the right IIN).
    clock.now = NOW + timedelta(seconds=LOOKUP_WINDOW + 1)
    answer = await look_up(assistant, intruder, app.number, OWNER_IIN)
    assert app.number in text_of(answer)
