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


def _assistant(
    nlu: NLU, kb: KnowledgeBase, calendar: Calendar, clock: Clock, applications: Applications
) -> Assistant:
    return Assistant(nlu, kb, calendar, clock=clock, flows=[ApplicationFlow(applications, nlu)])


@pytest.mark.parametrize("name", NAMES)
async def test_a_name_is_the_answer(
    rasa_nlu: NLU,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
    name: str,
) -> None:
    assistant = _assistant(rasa_nlu, kb, calendar, clock, applications)
    chat = Chat(assistant, 7001)
    await chat.say("Хочу подать заявление на дубликат диплома")
    await chat.press("app:consent:yes")
    assert "Вопрос 1 из 11" in chat.text()
    await chat.say(name)
    assert "Вопрос 2 из 11" in chat.text(), chat.text()
    # A request typed where a text is expected still leaves the step (the form waits).
    await chat.say("проверить статус моего заявления")
    assert chat.last.intent == "check_status"


async def test_a_question_before_consent_is_answered_and_the_form_waits(
    rasa_nlu: NLU,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
) -> None:
    """ "қандай құжаттар керек" typed at the consent screen got the 600-character
    consent text again: nothing is entered yet, the question is answered."""
    assistant = _assistant(rasa_nlu, kb, calendar, clock, applications)
    chat = Chat(assistant, 7002)
    await chat.say("дипломның телнұсқасына өтініш бергім келеді")
    assert "app:consent:yes" in chat.payloads()
    await chat.say("кандай кужаттар керек")
    assert chat.last.units[:1] == ["duplicate.documents"], chat.text()
    assert "app:consent:yes" not in chat.payloads()
    await chat.say("иә")  # the form waited at its consent
    assert "Сұрақ 1 / 11" in chat.text(), chat.text()


async def test_a_question_without_a_question_mark_before_consent_is_answered(
    rasa_nlu: NLU,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
) -> None:
    """ "I am writing an application" opens the form at its consent; a
    question typed there in Latin letters, without "?", in words the model is
    not sure of, got the consent text again. It is answered; the form waits."""
    assistant = _assistant(rasa_nlu, kb, calendar, clock, applications)
    chat = Chat(assistant, 7005)
    await chat.say("dublikatka otinish zhazyp otyrmyn")
    assert "app:consent:yes" in chat.payloads()
    await chat.say("bitirgen zhylym men mamandyǵymdy korsetu kerek pe")
    assert chat.last.units[:1] == ["duplicate.application_form.study_details"], chat.text()
    assert chat.last.lang == "kk" and "app:consent:yes" not in chat.payloads()
    await chat.say("иә")  # the form waited at its consent
    assert "Сұрақ 1 / 11" in chat.text(), chat.text()


@pytest.mark.parametrize(
    "text",
    [
        "саламатсызба дипломнын телнускасын калай алам, кошип журип жогалтып алдым",
        "diplomnyn telnusqasyn qalai alamyn",
    ],
)
async def test_how_do_i_get_it_is_a_question_not_a_form(
    rasa_nlu: NLU,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
    text: str,
) -> None:
    """ "How do I get a duplicate?" half-read as "I want to apply" opened a form
    asking for personal data; it is where and how to apply."""
    assistant = _assistant(rasa_nlu, kb, calendar, clock, applications)
    chat = Chat(assistant, 7003)
    await chat.say(text)
    assert "app:consent:yes" not in chat.payloads(), chat.text()
    assert chat.last.units[:1] in (["duplicate.where_to_apply"], ["duplicate.provider_university"])


async def test_how_can_one_apply_half_read_as_apply_is_answered_from_the_standard(
    rasa_nlu: NLU,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    applications: Applications,
) -> None:
    """The model reads "қалай өтініш беруге болады" as "I want to apply" at
    0.68; its words ask how: where and how to apply, no personal-data form."""
    assistant = _assistant(rasa_nlu, kb, calendar, clock, applications)
    parsed = await rasa_nlu.parse("қалай өтініш беруге болады")
    assert parsed.intent == "submit_application" and parsed.confidence < 0.75  # the premise
    chat = Chat(assistant, 7004)
    await chat.say("қалай өтініш беруге болады")
    assert "app:consent:yes" not in chat.payloads(), chat.text()
    assert chat.last.intent == "ask_where_to_apply", (chat.last.intent, chat.text())
