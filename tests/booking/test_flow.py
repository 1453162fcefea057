"""Booking through the assistant, in Kazakh and Russian: by buttons and by
text with a date, and the answers to unexpected input. The NLU is the real
fallback classifier (no Rasa server); the database is SQLite."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.assistant import Assistant
from actions.booking import BookingFlow, BookingRules, Offices
from actions.events import Event, Outcome
from knowledge.base import KnowledgeBase
from knowledge.calendar import Calendar
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage.booking import ACTIVE, Booking, BookingStore
from tests.booking.conftest import ALMATY, Clock

_users = itertools.count(8_100_000)
FRIDAY = date(2026, 12, 11)
THURSDAY = date(2026, 12, 10)


class Citizen:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.id = next(_users)
        self.last: Outcome | None = None

    async def says(self, text: str) -> Outcome:
        self.last = await self.assistant.handle(Event(self.id, text=text))
        return self.last

    async def presses(self, payload: str) -> Outcome:
        self.last = await self.assistant.handle(Event(self.id, button=payload))
        return self.last

    async def presses_first(self, prefix: str) -> Outcome:
        """Press the first button of the last answer whose payload starts with `prefix`."""
        assert self.last is not None
        payload = next((p for p in payloads(self.last) if p.startswith(prefix)), None)
        assert payload is not None, (prefix, payloads(self.last), text_of(self.last))
        return await self.presses(payload)


def text_of(o: Outcome) -> str:
    return "\n".join(r.text for r in o.replies)


def payloads(o: Outcome) -> list[str]:
    return [b.payload for r in o.replies for b in r.flat_buttons()]


@pytest.fixture
async def store(
    sqlite_db: async_sessionmaker[AsyncSession],
) -> AsyncIterator[BookingStore]:
    yield BookingStore(sqlite_db)


@pytest.fixture
def assistant(
    light: LightModels,
    kb: KnowledgeBase,
    calendar: Calendar,
    clock: Clock,
    store: BookingStore,
    offices: Offices,
    rules: BookingRules,
) -> Assistant:
    nlu = NLU(client=None, light=light)
    flow = BookingFlow(store, offices, rules, nlu)
    return Assistant(nlu, kb, calendar, clock=clock, flows=[flow])


@pytest.fixture
def citizen(assistant: Assistant) -> Citizen:
    return Citizen(assistant)


async def bookings_of(store: BookingStore, user_id: int) -> list[Booking]:
    async with store.sessions() as session:
        rows = await session.execute(select(Booking).where(Booking.user_id == user_id))
        return list(rows.scalars())


# -- whole bookings, both languages ----------------------------------------------------
async def test_russian_text_booking_friday_afternoon(citizen: Citizen, store: BookingStore) -> None:
    first = await citizen.says("запишите меня на пятницу после обеда")
    assert first.lang == "ru" and first.intent == "book_queue"
    assert "bk:s:duplicate" in payloads(first)  # no service named: asked

    await citizen.presses("bk:s:duplicate")
    city = await citizen.says("Алматы")  # typed where a button was expected
    assert "bk:o:alm-psc1" in payloads(city) and "(үлгі / образец)" in text_of(city)

    times = await citizen.presses("bk:o:alm-psc1")
    # Friday came from the first message: straight to the afternoon times.
    assert "11.12.2026" in text_of(times)
    slots = [p for p in payloads(times) if p.startswith("bk:t:")]
    assert slots[0] == "bk:t:1400" and all(p >= "bk:t:1400" for p in slots)

    confirm = await citizen.presses("bk:t:1430")
    assert "Подтвердить?" in text_of(confirm) and "14:30" in text_of(confirm)
    ticket = await citizen.presses_first("bk:ok:")
    text = text_of(ticket)
    assert "Талон:" in text and "ЦОН №1 (үлгі / образец)" in text
    assert "Что взять с собой:" in text and "В ЦОН:" in text  # the documents for ЦОН
    assert "Источник: приказ № 654, стандарт «Дубликаты», п. 9, подп. 1)-2)" in text  # short
    assert "за 1 день и 1 час" in text

    [booking] = await bookings_of(store, citizen.id)
    assert booking.status == ACTIVE and booking.office_id == "alm-psc1"
    assert booking.starts_at == datetime(2026, 12, 11, 14, 30, tzinfo=ALMATY)
    assert booking.code in text and booking.lang == "ru"


async def test_kazakh_text_booking_tomorrow_at_psc(citizen: Citizen, store: BookingStore) -> None:
    first = await citizen.says("ертең ЦОН-ға жазылғым келеді")
    assert first.lang == "kk" and "Қаланы таңдаңыз" in text_of(first)

    # Shymkent has one ЦОН: the office step is answered by "ЦОН" already.
    times = await citizen.says("Шымкент")
    assert "10.12.2026" in text_of(times) and "ХҚО №1 (үлгі / образец)" in text_of(times)
    assert "bk:t:0900" in payloads(times)

    confirm = await citizen.says("10:00")
    assert "Растайсыз ба?" in text_of(confirm) and "10:00" in text_of(confirm)
    ticket = await citizen.says("иә")
    text = text_of(ticket)
    assert "Талон:" in text and "Өзіңізбен бірге алып келіңіз:" in text
    assert "ХҚО-ға:" in text and "Дереккөз:" in text
    # Tomorrow 10:00 is less than a day away: only the hour-before reminder.
    assert "1 сағат қалғанда" in text and "1 күн" not in text

    [booking] = await bookings_of(store, citizen.id)
    assert booking.office_id == "shy-psc1" and booking.lang == "kk"
    assert booking.starts_at == datetime(2026, 12, 10, 10, 0, tzinfo=ALMATY)


async def test_kazakh_by_buttons_at_a_university(citizen: Citizen, store: BookingStore) -> None:
    await citizen.presses("lang:kk")
    service = await citizen.presses("ask:book_queue")
    assert "Қай қызмет" in text_of(service)
    await citizen.presses("bk:s:duplicate")
    await citizen.presses("bk:c:ast")
    days = await citizen.presses("bk:o:ast-uni1")
    assert "bk:d:20261213" not in payloads(days)  # Sunday
    assert "bk:d:20261216" not in payloads(days)  # Independence Day
    assert "bk:d:20261224" not in payloads(days)  # beyond the 14 days
    times = await citizen.presses("bk:d:20261214")
    assert "bk:t:1300" not in payloads(times) and "bk:t:1240" in payloads(times)  # lunch
    await citizen.presses("bk:t:1400")
    ticket = await citizen.presses_first("bk:ok:")
    assert "ЖОО кеңсесіне:" in text_of(ticket)  # the documents for the university office
    [booking] = await bookings_of(store, citizen.id)
    assert booking.office_id == "ast-uni1"


async def test_grants_have_a_live_queue_with_the_source(citizen: Citizen) -> None:
    ru = await citizen.says("запишите меня на грант")
    text = text_of(ru)
    assert "живой очереди" in text and "Источник:" in text and "4, 8" in text
    assert "bk:s:duplicate" in payloads(ru)
    kk = Citizen(citizen.assistant)
    await kk.presses("lang:kk")
    await kk.presses("ask:book_queue")
    answer = await kk.presses("bk:s:social_support")
    assert "алдын ала жазылусыз" in text_of(answer) and "Дереккөз:" in text_of(answer)


# -- unexpected input -------------------------------------------------------------------
async def start_at_office(citizen: Citizen, office: str = "ast-psc1") -> Outcome:
    await citizen.presses("ask:book_queue")
    await citizen.presses("bk:s:duplicate")
    return await citizen.presses(f"bk:o:{office}")


async def booked_at_office(citizen: Citizen, store: BookingStore, lang: str) -> Booking:
    """The citizen's one booking, at 10:00 on Monday 14 December, made by buttons."""
    await citizen.presses(f"lang:{lang}")
    await start_at_office(citizen)
    await citizen.presses("bk:d:20261214")
    await citizen.presses("bk:t:1000")
    await citizen.presses_first("bk:ok:")
    [booking] = await bookings_of(store, citizen.id)
    return booking


async def test_a_past_date_a_holiday_and_beyond_the_horizon(citizen: Citizen) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    past = await citizen.says("08.12")
    assert "08.12.2026 (вт) — этот день уже прошёл." in text_of(past)
    assert any(p.startswith("bk:d:") for p in payloads(past))
    holiday = await citizen.says("16.12")
    assert "16.12.2026 (ср) — праздничный день (" in text_of(holiday)
    sunday = await citizen.says("13 декабря")
    assert "выходной" in text_of(sunday)
    far = await citizen.says("30.12")
    assert "не более чем на 14 дней" in text_of(far) and "23.12.2026" in text_of(far)
    fine = await citizen.says("в понедельник")
    assert "14.12.2026" in text_of(fine) and "bk:t:0900" in payloads(fine)


async def test_a_full_day_is_not_offered(citizen: Citizen, store: BookingStore) -> None:
    await citizen.presses("lang:ru")
    # alm-uni2: one window, 20-minute slots; fill Thursday completely.
    t = datetime(2026, 12, 10, 9, 0, tzinfo=ALMATY)
    filler = 9_000_000
    while t.hour < 18:
        if not 13 <= t.hour < 14:
            filler += 1
            await store.book(
                user_id=filler,
                service="duplicate",
                office_id="alm-uni2",
                windows=1,
                starts_at=t,
                lang="ru",
                key=f"fill:{filler}",
            )
        t += timedelta(minutes=20)
    days = await start_at_office(citizen, "alm-uni2")
    assert "bk:d:20261210" not in payloads(days) and "bk:d:20261211" in payloads(days)
    full = await citizen.says("завтра")
    assert "На 10.12.2026 (чт) свободного времени нет." in text_of(full)
    # An old keyboard's button for that day gets the same answer.
    again = await citizen.presses("bk:d:20261210")
    assert "свободного времени нет" in text_of(again)


async def test_a_taken_time_and_a_double_confirm(
    citizen: Citizen, assistant: Assistant, store: BookingStore
) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen, "alm-uni2")  # one window
    await citizen.presses("bk:d:20261214")
    confirm = await citizen.presses("bk:t:0900")
    ok = next(p for p in payloads(confirm) if p.startswith("bk:ok:"))

    rival = Citizen(assistant)
    await rival.presses("lang:ru")
    await start_at_office(rival, "alm-uni2")
    await rival.presses("bk:d:20261214")
    await rival.presses("bk:t:0900")
    await rival.presses_first("bk:ok:")  # the rival confirms first

    taken = await citizen.presses(ok)
    assert "09:00 только что заняли" in text_of(taken)
    assert "bk:t:0900" not in payloads(taken) and "bk:t:0920" in payloads(taken)
    confirm = await citizen.presses("bk:t:0920")
    ok = next(p for p in payloads(confirm) if p.startswith("bk:ok:"))
    first = await citizen.presses(ok)
    second = await citizen.presses(ok)  # a double tap
    assert "Талон:" in text_of(first) and "уже оформлена" in text_of(second)
    assert len(await bookings_of(store, citizen.id)) == 1


async def test_personal_data_and_gibberish_get_the_step_again(citizen: Citizen) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    iin = await citizen.says("870101300123")
    assert "не присылайте персональные данные" in text_of(iin)
    assert any(p.startswith("bk:d:") for p in payloads(iin))
    odd = await citizen.says("абырвалг")
    assert "Не понял ответ" in text_of(odd) and "bk:back" in payloads(odd)
    number = await citizen.says("14")  # a day of the month typed
    assert "14.12.2026" in text_of(number) and any(p.startswith("bk:t:") for p in payloads(number))
    hour = await citizen.says("15")  # an hour typed
    assert "15:00" in text_of(hour) and "Подтвердить?" in text_of(hour)


async def test_a_question_mid_way_is_answered_and_the_booking_waits(
    citizen: Citizen, store: BookingStore
) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    await citizen.presses("bk:d:20261214")
    answer = await citizen.says("какие документы нужны для дубликата?")
    assert answer.intent == "ask_documents" and "Источник:" in text_of(answer)
    await citizen.presses("bk:t:1000")
    ticket = await citizen.presses_first("bk:ok:")
    assert "Талон:" in text_of(ticket)
    assert len(await bookings_of(store, citizen.id)) == 1


async def test_back_and_stop(citizen: Citizen, store: BookingStore) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    await citizen.presses("bk:d:20261214")
    back = await citizen.presses("bk:back")
    assert any(p.startswith("bk:d:") for p in payloads(back))
    offices = await citizen.presses("bk:back")
    assert "bk:o:ast-psc1" in payloads(offices) and "bk:o:ast-uni1" in payloads(offices)
    stopped = await citizen.says("отмена")
    assert "запись не оформлена" in text_of(stopped)
    assert await bookings_of(store, citizen.id) == []
    # The booking is over: free text goes to the assistant again.
    after = await citizen.says("какие документы нужны для дубликата?")
    assert after.intent == "ask_documents"
    stale = await citizen.presses("bk:t:1000")
    assert "относится к прошлой записи" in text_of(stale)


async def test_cancelling_a_booking_mid_draft_offers_the_booking_already_made(
    citizen: Citizen, store: BookingStore
) -> None:
    booking = await booked_at_office(citizen, store, "ru")
    # A new booking begun, then the citizen remembers the one they have: the
    # draft stops and that booking is offered for cancelling (its day is not
    # taken as the new draft's day).
    await citizen.presses("ask:book_queue")
    stop = await citizen.says("стоп, у меня ведь уже есть запись на понедельник, отмените её")
    assert stop.intent == "cancel_booking"
    assert "запись не оформлена" in text_of(stop) and "Отменить запись?" in text_of(stop)
    assert f"bk:cy:{booking.code}" in payloads(stop)
    assert [b.status for b in await bookings_of(store, citizen.id)] == [ACTIVE]  # asked first


async def test_cancelling_a_booking_mid_draft_without_one_says_there_is_none(
    citizen: Citizen,
) -> None:
    await citizen.presses("lang:kk")
    await start_at_office(citizen)
    stop = await citizen.says("жазылымды болдырмай тастаңызшы")
    assert stop.intent == "cancel_booking"
    assert "жазылу рәсімделмеді" in text_of(stop) and "Алдағы жазылуларыңыз жоқ" in text_of(stop)


async def test_my_bookings_cancel_and_reschedule_in_kazakh(
    citizen: Citizen, store: BookingStore
) -> None:
    booking = await booked_at_office(citizen, store, "kk")

    await citizen.says("кезекке жазылғым келеді")
    again = await citizen.presses("bk:s:duplicate")
    assert "жазылуыңыз бар" in text_of(again) and f"bk:rs:{booking.code}" in payloads(again)

    mine = await citizen.says("менің жазылуларым")
    assert mine.intent == "my_bookings" and booking.code in text_of(mine)
    days = await citizen.presses(f"bk:rs:{booking.code}")
    assert "жазылуын ауыстыру" in text_of(days)
    await citizen.presses("bk:d:20261215")
    await citizen.presses("bk:t:1100")
    moved = await citizen.presses_first("bk:ok:")
    assert "Жазылу ауыстырылды" in text_of(moved)
    active = [b for b in await bookings_of(store, citizen.id) if b.status == ACTIVE]
    assert [b.starts_at for b in active] == [datetime(2026, 12, 15, 11, 0, tzinfo=ALMATY)]

    ask = await citizen.says("жазылуымды болдырмау")
    assert ask.intent == "cancel_booking" and f"bk:cy:{active[0].code}" in payloads(ask)
    done = await citizen.presses(f"bk:cy:{active[0].code}")
    assert "бас тартылды" in text_of(done)
    assert [b for b in await bookings_of(store, citizen.id) if b.status == ACTIVE] == []
    twice = await citizen.presses(f"bk:cy:{active[0].code}")
    assert "белсенді жазылуы жоқ" in text_of(twice)


async def test_an_expired_confirmation_books_nothing(citizen: Citizen, store: BookingStore) -> None:
    await citizen.presses("lang:ru")
    answer = await citizen.presses("bk:ok:deadbeef")
    assert "подтверждение устарело" in text_of(answer)
    assert await bookings_of(store, citizen.id) == []


async def test_a_draft_left_idle_lets_the_assistant_answer(
    citizen: Citizen, clock: Clock, store: BookingStore
) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    clock.now += timedelta(hours=2)
    answer = await citizen.says("абырвалг")
    assert "Не понял ответ" not in text_of(answer)  # the assistant's own answer
    assert await bookings_of(store, citizen.id) == []


async def test_after_leaving_by_the_menu_other_questions_reach_the_assistant(
    citizen: Citizen,
) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    await citizen.presses("menu")  # /cancel does the same
    thanks = await citizen.says("спасибо")
    assert thanks.intent == "thank"
    greet = await citizen.says("здравствуйте")
    assert greet.intent == "greet" and "Не понял ответ" not in text_of(greet)


async def test_a_word_is_an_answer_a_sentence_may_be_a_question(citizen: Citizen) -> None:
    await citizen.presses("lang:ru")
    await citizen.presses("ask:book_queue")
    await citizen.presses("bk:s:duplicate")
    await citizen.presses("bk:c:ast")
    offices = await citizen.says("ЦОН")  # an answer: only the ЦОНs
    assert "bk:o:ast-psc1" in payloads(offices) and "bk:o:ast-uni1" not in payloads(offices)
    schedule = await citizen.says("график работы ЦОН")  # a question for the assistant
    assert schedule.intent == "ask_schedule" and "20:00" in text_of(schedule)
    term = await citizen.says("сроки")
    assert term.intent == "ask_processing_time"
    days = await citizen.presses("bk:o:ast-psc2")  # the booking carries on
    assert any(p.startswith("bk:d:") for p in payloads(days))
    when = await citizen.says("давайте в понедельник после обеда")
    assert "14.12.2026" in text_of(when) and "bk:t:1400" in payloads(when)
