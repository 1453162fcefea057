"""Checking a status: one's own applications, and one by number, which a
stranger sees only with the applicant's IIN, and then without personal data."""

from __future__ import annotations

from datetime import date

from actions.assistant import Assistant
from storage.applications import ApplicantForm, Application, Applications
from tests.applications.conftest import NOW
from tests.applications.support import Chat, make_iin

OWNER_IIN = make_iin(date(1985, 6, 1), female=True)


async def submitted(applications: Applications, user_id: int, lang: str = "ru") -> Application:
    form = ApplicantForm(
        university_head_name="Сыдыков Ерлан Батташевич",
        specialty="История",
        university="КазНУ им. аль-Фараби",
        graduation_year=2007,
        applicant_name="Жұмабаева Сәуле Ержанқызы",
        iin=OWNER_IIN,
        phone="+77015550011",
        reason="name_change",
        requested="diploma",
    )
    return await applications.create(
        form, user_id=user_id, lang=lang, channel="provider", due_date=date(2026, 12, 24), now=NOW
    )


def shows_no_personal_data(text: str) -> bool:
    return not any(s in text for s in ("Жұмабаева", "Сәуле", OWNER_IIN, "+77015550011", "История"))


async def test_owner_sees_own_applications(
    assistant: Assistant, applications: Applications
) -> None:
    app = await submitted(applications, 6001)
    await applications.change_status(app.number, "in_review", actor="staff:1")
    await applications.change_status(
        app.number, "ready", place="КазНУ, ректорат, 2-қабат", actor="staff:1"
    )
    chat = Chat(assistant, 6001)
    await chat.say("статус моей заявки")
    assert chat.last.intent == "check_status"
    text = chat.text()
    assert app.number in text and "готово к выдаче" in text and "24.12.2026" in text
    assert "КазНУ, ректорат, 2-қабат" in text
    # By number too, without being asked for an IIN.
    await chat.say(f"проверить статус {app.number}")
    assert app.number in chat.text() and "ИИН" not in chat.text()


async def test_stranger_needs_the_iin(assistant: Assistant, applications: Applications) -> None:
    app = await submitted(applications, 6002)
    chat = Chat(assistant, 6003)
    await chat.say(f"проверить статус {app.number}")
    assert "ИИН заявителя" in chat.text()
    assert shows_no_personal_data(chat.text())

    await chat.say("12345")
    assert "12 цифр" in chat.text()  # a malformed IIN is explained and not counted
    await chat.say(make_iin(date(1985, 6, 2)))
    assert "не найдено" in chat.text()
    assert shows_no_personal_data(chat.text())
    await chat.say(app.number)
    assert "ИИН заявителя" in chat.text()
    await chat.say(OWNER_IIN)
    text = chat.text()
    assert app.number in text and "принято" in text
    assert shows_no_personal_data(text)
    # Looked up, not owned: the stranger's own list stays empty.
    await chat.force("app:status")
    assert app.number not in chat.text()
    assert "Заявлений, поданных из этого чата, нет" in chat.text()
    assert "Источник:" in chat.text()  # how else to learn a status, with its clause


async def test_number_and_iin_in_one_message(
    assistant: Assistant, applications: Applications
) -> None:
    app = await submitted(applications, 6004)
    chat = Chat(assistant, 6005)
    await chat.say(f"статус заявления {app.number} иин {OWNER_IIN}")
    assert app.number in chat.text() and "принято" in chat.text()
    assert (await assistant.states.load(6005)).flow is None


async def test_unknown_number_looks_like_a_wrong_iin(
    assistant: Assistant, applications: Applications
) -> None:
    await submitted(applications, 6006)
    chat = Chat(assistant, 6007)
    await chat.say("проверить статус DUP-2026-07777")
    assert "ИИН заявителя" in chat.text()  # asked all the same: numbers cannot be probed
    await chat.say(OWNER_IIN)
    assert "не найдено" in chat.text()


async def test_three_wrong_tries_end_the_lookup(
    assistant: Assistant, applications: Applications
) -> None:
    app = await submitted(applications, 6008)
    chat = Chat(assistant, 6009)
    await chat.say("өтінішімнің мәртебесі қандай")
    assert chat.last.lang == "kk"
    await chat.press("app:lookup")
    await chat.say("білмеймін")
    assert "нөмірі жоқ" in chat.text()
    for serial in range(3):
        await chat.say(app.number)
        await chat.say(make_iin(date(1970, 1, 1), serial=2000 + serial * 10))
    assert "1414" in chat.text()
    assert (await assistant.states.load(6009)).flow is None
    await chat.say(OWNER_IIN)  # now just a message, not an answer
    assert app.number not in chat.text()


async def test_status_buttons_and_cancel(assistant: Assistant, applications: Applications) -> None:
    chat = Chat(assistant, 6010)
    await chat.force("ask:check_status")
    assert "app:lookup" in chat.payloads() and "app:start" in chat.payloads()
    await chat.press("app:lookup")
    await chat.press("app:lookup:cancel")
    assert "отменил" in chat.text() or "тоқтаттым" in chat.text()
    assert (await assistant.states.load(6010)).flow is None


async def test_status_while_filling_a_form_keeps_the_form(
    assistant: Assistant, applications: Applications
) -> None:
    chat = Chat(assistant, 6011)
    await chat.say("подать заявление на дубликат")
    await chat.press("app:consent:yes")
    await chat.say("Ахметов Болат Серикович")
    await chat.force("ask:check_status")
    assert "незаконченное заявление" in chat.text()
    await chat.press("app:resume")
    assert "Вопрос 2 из 11" in chat.text()


async def test_no_application_here_gives_the_standard_of_the_service_asked(
    assistant: Assistant,
) -> None:
    """No application filed from this chat: how to learn the status is the
    standard's answer for the service asked about, with its clause (a grant
    is followed in the portal's cabinet; no ЦОН for grants)."""
    chat = Chat(assistant, 6011)
    await chat.say("где проверить статус заявки на грант")
    assert chat.last.intent == "check_status"
    text = chat.text()
    assert "Заявлений, поданных из этого чата, нет" in text
    assert "«Гранты»" in text and "«Дубликаты»" not in text and "ЦОН" not in text
    assert chat.last.units == ["grant.status"]
    kk = Chat(assistant, 6012)
    await kk.say("телнұсқаға өтінішімнің статусын тексеріңізші")
    assert kk.last.intent == "check_status" and kk.last.lang == "kk"
    assert "ХҚО" in kk.text() and "телнұсқа стандарты" in kk.text()
