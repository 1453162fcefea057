from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actions.assistant import Assistant
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
