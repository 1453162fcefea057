"""The whole intake through the assistant (the real fallback classifier),
in Kazakh and in Russian: consent, every field, bad input, back, edit,
cancel, confirmation with the PDF, and what ends up stored."""

from __future__ import annotations

from datetime import date

from fontTools.ttLib import TTFont

from actions.assistant import Assistant
from actions.intake import DocumentReply
from actions.pdf import find_fonts
from knowledge.calendar import Calendar
from storage.applications import Applications
from tests.applications.conftest import NOW
from tests.applications.support import Chat, break_check_digit, make_iin, pdf_text

KAZAKH_LETTERS = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"
IIN_RU = make_iin(date(1990, 3, 15))
IIN_KK = make_iin(date(1995, 8, 30), female=True)


def documents(chat: Chat) -> list[DocumentReply]:
    return [r for r in chat.last.replies if r.document is not None]


async def test_intake_in_russian_with_mistakes_back_and_edit(
    assistant: Assistant, applications: Applications, calendar: Calendar
) -> None:
    chat = Chat(assistant, 5001)
    await chat.say("Хочу подать заявление на дубликат диплома")
    assert chat.last.lang == "ru"
    assert chat.last.intent == "submit_application"
    assert "персональные данные" in chat.text()
    assert "app:consent:yes" in chat.payloads()

    await chat.press("app:consent:yes")
    assert "Вопрос 1 из 11" in chat.text()
    await chat.say("12345")
    assert "не должно быть цифр" in chat.text()
    assert "Вопрос 1 из 11" in chat.text()  # the same question again
    await chat.say("Ахметов Болат Серикович")
    assert "Вопрос 2 из 11" in chat.text()

    # 4,000 characters of noise: refused without being repeated back.
    noise = "ыва@#$ " * 600
    await chat.say(noise)
    assert "Слишком длинный текст" in chat.text()
    assert len(chat.text()) < 600
    await chat.say("Информационные системы")
    await chat.say("Евразийский национальный университет имени Л. Н. Гумилёва")
    assert "году" in chat.text()

    await chat.say("2031")
    assert "ещё не наступил" in chat.text()
    await chat.say("1949")
    assert "раньше 1950" in chat.text()
    await chat.say("2012")
    assert "Вопрос 5 из 11" in chat.text()

    # Back to the year: its value is shown and can be kept.
    await chat.press("app:back")
    assert "Вопрос 4 из 11" in chat.text() and "2012" in chat.text()
    await chat.press("app:keep")
    assert "Вопрос 5 из 11" in chat.text()
    await chat.say("Ахметова Айгерим Болатовна")

    await chat.say("87041А300416")
    assert "только из цифр" in chat.text()
    await chat.say(break_check_digit(IIN_RU))
    assert "контрольная цифра" in chat.text()
    await chat.say("901315300416")
    assert "дата рождения" in chat.text()
    await chat.say(IIN_RU)
    assert "Вопрос 7 из 11" in chat.text()

    await chat.say("12345")
    assert "+7" in chat.text() and "10 цифр" in chat.text()
    await chat.say("8 (701) 234-56-78")
    assert "Пропустить" in chat.text()
    await chat.press("app:skip")

    await chat.say("что-то непонятное")
    assert "Не понял выбор" in chat.text()
    assert "app:pick:reason:lost" in chat.payloads()
    await chat.press("app:pick:reason:lost")
    await chat.press("app:pick:requested:diploma_with_appendix")
    await chat.force("app:pick:reason:unusable")  # a stale button: ignored
    assert "app:pick:channel:psc" in chat.payloads()
    await chat.press("app:pick:channel:psc")

    summary = chat.text()
    for value in (
        "Ахметов Болат Серикович",
        "Информационные системы",
        "2012",
        IIN_RU,
        "+77012345678",
        "Утеря документа",
        "Дубликат диплома с приложением",
        "ЦОН",
    ):
        assert value in summary, value
    assert "app:confirm" in chat.payloads()

    # Edit one field from the summary; back at the summary afterwards.
    await chat.press("app:edit")
    await chat.press("app:edit:phone")
    assert "+77012345678" in chat.text()  # the current value
    await chat.say("+7 701 234 56 79")
    assert "Проверьте заявление" in chat.text() and "+77012345679" in chat.text()
    assert await applications.for_user(5001) == []  # nothing stored before confirmation

    await chat.press("app:confirm")
    done = chat.text()
    number = f"DUP-{NOW.year}-00001"
    assert number in done
    assert "принято" in done and "запрос сотрудникам" in done and "+77012345679" in done
    due = calendar.duplicate_due_date("psc", NOW).due
    assert due.strftime("%d.%m.%Y") in done
    # What to bring, from the knowledge base, with its clause.
    assert "копия документа, удостоверяющего личность" in done
    assert "Источник: приказ № 654, стандарт «Дубликаты», п. 9, подп. 1)-2)" in done  # short
    [pdf] = documents(chat)
    assert pdf.document is not None and pdf.document[0] == f"{number}.pdf"

    text = " ".join(pdf_text(pdf.document[1]).split())  # lines joined
    for value in (
        "Заявление",
        number,
        "Ахметов Болат Серикович",
        "Ахметова Айгерим Болатовна",
        "Информационные системы",
        "2012",
        IIN_RU,
        "+77012345679",
        "дубликат диплома с приложением",
        "утеря документа",
        "«25» ноября 2026 г.",
    ):
        assert value in text, value

    [app] = await applications.for_user(5001)
    assert (app.number, app.status, app.lang, app.channel) == (number, "received", "ru", "psc")
    assert app.due_date == due
    assert app.iin == IIN_RU and app.iin_hash and IIN_RU not in app.iin_hash
    handoff = await applications.handoff(number)
    assert handoff is not None and "Ахметова Айгерим Болатовна" in handoff.note
    assert IIN_RU not in handoff.note and "9003******" in handoff.note

    # The form is gone: a second confirmation makes nothing new.
    await chat.force("app:confirm")
    assert "уже закрыта" in chat.text()
    assert len(await applications.for_user(5001)) == 1

    # /status (the same event as the menu button) lists it.
    await chat.force("ask:check_status")
    assert number in chat.text() and "принято" in chat.text()
    assert due.strftime("%d.%m.%Y") in chat.text()


async def test_intake_in_kazakh_with_kazakh_letters_in_the_pdf(
    assistant: Assistant, applications: Applications
) -> None:
    chat = Chat(assistant, 5002)
    await chat.say("Дипломның телнұсқасына өтініш бергім келеді")
    assert chat.last.lang == "kk"
    assert "дербес деректер" in chat.text().lower()
    await chat.say("иә")
    assert "Сұрақ 1 / 11" in chat.text()
    await chat.say("Шаһмарданов Ерлан Қайратұлы")
    await chat.say("Құқықтану")
    await chat.say("Әл-Фараби атындағы Қазақ ұлттық университеті")
    await chat.say("жиырма он екі")
    assert "төрт цифр" in chat.text()
    await chat.say("2017")
    await chat.say("Әбілқасымова Гүлнұр Қанатқызы")
    await chat.say("ЖСН білмеймін")
    assert "тек цифрлардан" in chat.text()
    await chat.say(IIN_KK)
    await chat.say("+7 777 123 45 67")
    await chat.say("Алматы қ., әл-Фараби даңғылы, 71, Қазақ ұлттық университеті (жаңа атауы)")
    assert "Сұрақ 9 / 11" in chat.text()
    await chat.say("1")  # the first reason by its number
    assert "Сұрақ 10 / 11" in chat.text()
    await chat.press("app:pick:requested:diploma")
    await chat.say("артқа")  # typed back
    assert "Сұрақ 10 / 11" in chat.text()
    await chat.press("app:pick:requested:appendix")
    await chat.press("app:pick:channel:provider")
    assert "Өтінішті тексеріңіз" in chat.text()
    assert "Қосымшаның телнұсқасы" in chat.text()

    await chat.press("app:confirm")
    done = chat.text()
    assert "DUP-2026-00001" in done and "қабылданды" in done
    assert "Дереккөз:" in done and "ЖОО кеңсесіне" in done
    [pdf] = documents(chat)
    assert pdf.document is not None
    text = " ".join(pdf_text(pdf.document[1]).split())  # lines joined
    for value in (
        "Өтініш",
        "Шаһмарданов Ерлан Қайратұлы",
        "Әбілқасымова Гүлнұр Қанатқызы",
        "Құқықтану",
        "Әл-Фараби атындағы Қазақ ұлттық",
        IIN_KK,
        "+77771234567",
        "қосымшаның телнұсқасы",
        "құжаттың жоғалуы",
        "«25» қараша 2026 ж.",
    ):
        assert value in text, value
    # Every Kazakh letter came through the PDF and the font has all of them.
    assert set("әғқңөұүһі") <= set(text)  # all nine, extracted back from the PDF
    cmap = TTFont(str(find_fonts().regular)).getBestCmap()
    assert all(ord(ch) in cmap for ch in KAZAKH_LETTERS + "ЁёЙй№«»")

    [app] = await applications.for_user(5002)
    assert app.lang == "kk" and app.channel == "provider" and app.requested == "appendix"
    assert app.university_new is not None and app.university_new.startswith("Алматы")


async def test_cancel_mid_form_stores_nothing(
    assistant: Assistant, applications: Applications
) -> None:
    chat = Chat(assistant, 5003)
    await chat.say("подать заявление")
    await chat.press("app:consent:yes")
    await chat.say("Ахметов Болат Серикович")
    await chat.say("Физика")
    await chat.say("отмена")
    assert "отменено" in chat.text() and "удалены" in chat.text()
    state = await assistant.states.load(5003)
    assert state.flow is None and state.flow_data == {}
    assert await applications.for_user(5003) == []
    # Typing now is a question to the assistant again, not a form field.
    await chat.say("какие документы нужны для дубликата")
    assert chat.last.intent == "ask_documents"


async def test_cancel_by_button_from_the_summary(
    assistant: Assistant, applications: Applications
) -> None:
    chat = Chat(assistant, 5004)
    await chat.say("өтініш беру")
    await chat.press("app:consent:yes")
    await chat.press("app:cancel")
    assert "бас тартылды" in chat.text()
    assert (await assistant.states.load(5004)).flow is None


async def test_no_consent_keeps_nothing_and_explains_the_alternatives(
    assistant: Assistant, applications: Applications
) -> None:
    chat = Chat(assistant, 5005)
    await chat.say("Хочу подать заявление на дубликат")
    await chat.press("app:consent:no")
    text = chat.text()
    assert "ничего не сохранил" in text
    assert "Источник:" in text and "ЦОН" in text  # where to apply, from the knowledge base
    state = await assistant.states.load(5005)
    assert state.flow is None and state.flow_data == {}
    assert await applications.for_user(5005) == []


async def test_grants_are_applied_for_elsewhere(assistant: Assistant) -> None:
    chat = Chat(assistant, 5006)
    await chat.say("хочу подать заявку на грант")
    text = chat.text()
    assert "в вузе или на портале" in text
    assert "Источник: приказ № 654, стандарт «Гранты», п. 3" in text  # short, one line
    assert (await assistant.states.load(5006)).flow is None
    # ... with a way to the duplicate form all the same.
    await chat.press("app:start")
    assert "app:consent:yes" in chat.payloads()


async def test_a_question_during_the_form_is_answered_and_the_form_waits(
    assistant: Assistant,
) -> None:
    chat = Chat(assistant, 5007)
    await chat.say("подать заявление на дубликат")
    await chat.press("app:consent:yes")
    await chat.say("сколько дней делают дубликат?")
    assert chat.last.intent == "ask_processing_time"
    state = await assistant.states.load(5007)
    assert state.flow == "app" and state.flow_data["form"]["step"] == "university_head_name"
    await chat.say("подать заявление")
    assert "Продолжим" in chat.text() and "Вопрос 1 из 11" in chat.text()


async def test_a_specialty_that_sounds_like_a_request_is_still_a_specialty(
    assistant: Assistant,
) -> None:
    chat = Chat(assistant, 5008)
    await chat.say("подать заявление на дубликат")
    await chat.press("app:consent:yes")
    await chat.say("позовите оператора")  # a request, not the rector's name
    assert chat.last.intent == "request_operator"
    await chat.say("подать заявление")
    assert "Вопрос 1 из 11" in chat.text()
    await chat.say("Ахметов Болат Серикович")
    await chat.say("Русский язык и литература")
    assert "Вопрос 3 из 11" in chat.text()
    assert chat.last.lang == "ru"
