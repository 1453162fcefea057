"""With the real model, a full name typed at a name step is the answer,
never taken for a request (the soak found "Иванов Пётр Сергеевич" parsed as
check_status with 0.93), while a real request still leaves the step."""

from __future__ import annotations

import pytest

from actions.assistant import Assistant
from actions.intake.flow import ApplicationFlow
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.pipeline import NLU
from storage.applications import Applications
from tests.applications.conftest import Clock
from tests.applications.support import Chat

pytestmark = pytest.mark.rasa

NAMES = [
    "Иванов Пётр Сергеевич",
    "Петрова Анна Викторовна",
    "Сидоров Алексей Николаевич",
    "Жұмабаева Әсел Серікқызы",
    "Сәрсенбаев Ержан Қайратұлы",
    "Ким Виктор",
]


@pytest.mark.parametrize("name", NAMES)
async def test_a_name_is_the_answer(
    rasa_nlu: NLU,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
    name: str,
) -> None:
    assistant = Assistant(
        rasa_nlu, kb, calendar, clock=clock, flows=[ApplicationFlow(applications, rasa_nlu)]
    )
    chat = Chat(assistant, 7001)
    await chat.say("Хочу подать заявление на дубликат диплома")
    await chat.press("app:consent:yes")
    assert "Вопрос 1 из 11" in chat.text()
    await chat.say(name)
    assert "Вопрос 2 из 11" in chat.text(), chat.text()
    # A request typed where a text is expected still leaves the step (the form waits).
    await chat.say("проверить статус моего заявления")
    assert chat.last.intent == "check_status"
