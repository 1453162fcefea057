from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actions.assistant import Assistant
from actions.events import Event, Outcome
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.pipeline import NLU

ALMATY = ZoneInfo("Asia/Almaty")
# A Wednesday, 11:00 in Almaty: every office is open.
WEDNESDAY_11 = datetime(2026, 11, 25, 11, 0, tzinfo=ALMATY)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_11)


@pytest.fixture
def make_assistant(
    kb: KnowledgeBase, calendar: Calendar, clock: Clock
) -> Callable[[NLU], Assistant]:
    def make(nlu: NLU) -> Assistant:
        return Assistant(nlu, kb, calendar, clock=clock)

    return make


_users = itertools.count(5000)


class Citizen:
    """One new citizen talking to the assistant (a user id of their own)."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.id = next(_users)

    async def says(self, text: str) -> Outcome:
        return await self.assistant.handle(Event(self.id, text=text))

    async def presses(self, payload: str) -> Outcome:
        return await self.assistant.handle(Event(self.id, button=payload))


def text_of(o: Outcome) -> str:
    return "\n".join(r.text for r in o.replies)


def payloads(o: Outcome) -> list[str]:
    return [b.payload for r in o.replies for b in r.flat_buttons()]


@pytest.fixture
def citizen(rasa_nlu: NLU, make_assistant: Callable[[NLU], Assistant]) -> Citizen:
    return Citizen(make_assistant(rasa_nlu))
