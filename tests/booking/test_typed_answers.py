# ruff: noqa: F811 - the fixtures of test_flow are imported and used by name
"""A booking written, not tapped: every step answered by typing, in Russian
and in Kazakh, as citizens write ("первый", "в пятницу", "в 10 утра",
"сағат 11-де", "да, подтверждаю", "иә"); a time that is not free offers the
nearest free ones; a question typed mid-way is still the assistant's."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from actions.dates import find_date, find_time, resolve_hour
from storage.booking import ACTIVE, BookingStore
from tests.booking.conftest import ALMATY
from tests.booking.test_flow import (  # noqa: F401
    Citizen,
    assistant,
    bookings_of,
    citizen,
    payloads,
    start_at_office,
    store,
    text_of,
)

WEDNESDAY = date(2026, 12, 9)


def time_payloads(outcome: object) -> list[str]:
    return [p for p in payloads(outcome) if p.startswith("bk:t:")]  # type: ignore[arg-type]


# -- the parsers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "loose", "expected"),
    [
        ("в 10 утра", False, "1000"),
        ("10 утра", False, "1000"),
        ("в 10", True, "1000"),
        ("10:30", False, "1030"),
        ("10.30", False, "1030"),
        ("15.00", False, "1500"),
        ("в 3", True, "1500"),
        ("в 3 часа дня", False, "1500"),
        ("сағат 10-да", False, "1000"),
        ("сағат 3-те", False, "1500"),
        ("10-ға", False, "1000"),
        ("таңғы 10", False, "1000"),
        ("сағат 11-де", False, "1100"),
        ("түстен кейін 3-те", False, "1500"),
        ("запишите на пятницу в 10 утра", False, "1000"),
    ],
)
def test_times_as_typed(text: str, loose: bool, expected: str) -> None:
    found = find_time(text, loose=loose)
    assert found is not None, text
    hour, minute, hint = found
    assert f"{resolve_hour(hour, hint):02d}{minute:02d}" == expected


@pytest.mark.parametrize(
    "text", ["11.12", "11 декабря", "в 10 декабря", "10-го числа", "после обеда", "2 варианта"]
)
def test_not_times(text: str) -> None:
    assert find_time(text, loose=True) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("в пятницу", date(2026, 12, 11)),
        ("жұма", date(2026, 12, 11)),
        ("дүйсенбі", date(2026, 12, 14)),
        ("завтра", date(2026, 12, 10)),
        ("ертең", date(2026, 12, 10)),
        ("11.12", date(2026, 12, 11)),
        ("11 декабря", date(2026, 12, 11)),
        ("11 желтоқсан", date(2026, 12, 11)),
    ],
)
def test_days_as_typed(text: str, expected: date) -> None:
    assert find_date(text, WEDNESDAY) == expected


# -- whole bookings by text ---------------------------------------------------------------
async def test_russian_booking_written_end_to_end(citizen: Citizen, store: BookingStore) -> None:
    city = await citizen.says("хорошо, тогда запишите меня в цон")
    assert "bk:c:ast" in payloads(city)
    office = await citizen.says("Астана")
    assert "bk:o:ast-psc1" in payloads(office) and "bk:o:ast-psc2" in payloads(office)
    day = await citizen.says("первый")
    assert any(p.startswith("bk:d:") for p in payloads(day)), text_of(day)
    times = await citizen.says("в пятницу")
    assert "11.12.2026" in text_of(times) and "bk:t:1000" in payloads(times)
    confirm = await citizen.says("в 10 утра")
    assert "Подтвердить?" in text_of(confirm) and "10:00" in text_of(confirm)
    ticket = await citizen.says("да, подтверждаю")
    assert "Талон:" in text_of(ticket), text_of(ticket)
    [booking] = await bookings_of(store, citizen.id)
    assert booking.status == ACTIVE and booking.office_id == "ast-psc1"
    assert booking.starts_at == datetime(2026, 12, 11, 10, 0, tzinfo=ALMATY)
    assert booking.lang == "ru"


async def test_kazakh_booking_written_end_to_end(citizen: Citizen, store: BookingStore) -> None:
    city = await citizen.says("ХҚО-ға жазылғым келеді")
    assert city.lang == "kk" and "Қаланы таңдаңыз" in text_of(city)
    office = await citizen.says("астана")
    assert "bk:o:ast-psc2" in payloads(office)
    await citizen.says("екінші")
    times = await citizen.says("жұма")
    assert "11.12.2026" in text_of(times), text_of(times)
    confirm = await citizen.says("сағат 11-де")
    assert "Растайсыз ба?" in text_of(confirm) and "11:00" in text_of(confirm)
    ticket = await citizen.says("иә")
    assert "Талон:" in text_of(ticket)
    [booking] = await bookings_of(store, citizen.id)
    assert booking.office_id == "ast-psc2" and booking.lang == "kk"
    assert booking.starts_at == datetime(2026, 12, 11, 11, 0, tzinfo=ALMATY)


async def test_russian_by_day_and_three_in_the_afternoon(
    citizen: Citizen, store: BookingStore
) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    await citizen.says("завтра")
    confirm = await citizen.says("в 3 часа дня")
    assert "Подтвердить?" in text_of(confirm) and "15:00" in text_of(confirm)
    await citizen.says("ок")
    [booking] = await bookings_of(store, citizen.id)
    assert booking.starts_at == datetime(2026, 12, 10, 15, 0, tzinfo=ALMATY)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("10 утра", "10:00"),
        ("в 10", "10:00"),
        ("10:30", "10:30"),
        ("10.30", "10:30"),
        ("15.00", "15:00"),
        ("в 3", "15:00"),
        ("3", "15:00"),
        ("сағат 3-те", "15:00"),
        ("10-ға", "10:00"),
        ("таңғы 10", "10:00"),
    ],
)
async def test_a_time_typed_at_the_time_question(citizen: Citizen, typed: str, shown: str) -> None:
    await start_at_office(citizen)
    await citizen.says("11.12")
    confirm = await citizen.says(typed)
    assert "bk:ok:" in " ".join(payloads(confirm)), text_of(confirm)
    assert shown in text_of(confirm)


async def test_an_unavailable_time_offers_the_nearest(citizen: Citizen) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen, "ast-uni1")  # slots every 20 minutes
    await citizen.says("в пятницу")
    times = await citizen.says("16:30")
    text = text_of(times)
    assert "16:30" in text and "занято или недоступно" in text
    assert "bk:ok:" not in " ".join(payloads(times))
    first_row = [b.payload for b in times.replies[-1].buttons[0]]
    assert first_row == ["bk:t:1600", "bk:t:1620", "bk:t:1640", "bk:t:1700"]
    confirm = await citizen.presses("bk:t:1620")
    assert "16:20" in text_of(confirm)


async def test_a_taken_time_offers_the_nearest(
    citizen: Citizen, assistant: object, store: BookingStore
) -> None:
    # Each of the 2 windows of ast-uni1 at 10:00 on Friday taken by someone else.
    for _ in range(2):
        other = Citizen(assistant)  # type: ignore[arg-type]
        await start_at_office(other, "ast-uni1")
        await other.says("11.12")
        await other.presses("bk:t:1000")
        await other.presses_first("bk:ok:")
    await citizen.presses("lang:ru")
    await start_at_office(citizen, "ast-uni1")
    await citizen.says("11.12")
    times = await citizen.says("в 10 утра")
    first_row = [b.payload for b in times.replies[-1].buttons[0]]
    assert "bk:t:1000" not in payloads(times)
    assert "bk:t:0940" in first_row and "bk:t:1020" in first_row


# -- one step at a time ------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["дубликат", "телнұсқа"])
async def test_the_service_typed(citizen: Citizen, typed: str) -> None:
    await citizen.presses("ask:book_queue")
    city = await citizen.says(typed)
    assert "bk:c:ast" in payloads(city), text_of(city)


@pytest.mark.parametrize(
    ("typed", "office"),
    [
        ("1", "ast-psc1"),
        ("второй", "ast-psc2"),
        ("ЦОН №2", "ast-psc2"),
        ("цон 1", "ast-psc1"),
        ("бірінші", "ast-psc1"),
    ],
)
async def test_an_office_by_place_or_name(citizen: Citizen, typed: str, office: str) -> None:
    await citizen.says("запишите меня в цон")
    await citizen.says("Астана")
    day = await citizen.says(typed)
    assert any(p.startswith("bk:d:") for p in payloads(day)), text_of(day)
    label = "№1" if office.endswith("1") else "№2"
    assert label in text_of(day)


async def test_an_unclear_answer_at_the_city_asks_for_a_name_or_number(citizen: Citizen) -> None:
    """At "which city?" the hint names what to type (a name or a number),
    not dates and times that do not answer it."""
    await citizen.says("запишите меня в цон")
    unclear = await citizen.says("ммм")
    assert "bk:c:ast" in payloads(unclear)
    assert "название или номер" in text_of(unclear) and "10.12" not in text_of(unclear)


@pytest.mark.parametrize("typed", ["дубликат", "дипломның телнұсқасы"])
async def test_the_service_said_again_at_the_city_is_not_unclear(
    citizen: Citizen, typed: str
) -> None:
    """ "дубликат" typed at "which city?" when the booking is for a duplicate
    already: the city is asked again, without "не понял"."""
    await citizen.says("запишите меня в цон")
    again = await citizen.says(typed)
    assert "bk:c:ast" in payloads(again)
    assert "Не понял" not in text_of(again) and "түсінбедім" not in text_of(again)


@pytest.mark.parametrize("typed", ["первый", "1"])
async def test_a_city_by_place(citizen: Citizen, typed: str) -> None:
    await citizen.says("запишите меня в цон")
    office = await citizen.says(typed)
    assert "bk:o:ast-psc1" in payloads(office), text_of(office)


@pytest.mark.parametrize("typed", ["нет", "жоқ", "не подтверждаю"])
async def test_no_at_the_confirmation_books_nothing(
    citizen: Citizen, store: BookingStore, typed: str
) -> None:
    await start_at_office(citizen)
    await citizen.says("11.12")
    await citizen.says("10:00")
    again = await citizen.says(typed)
    assert "bk:t:1000" in payloads(again)  # the times again
    assert await bookings_of(store, citizen.id) == []


@pytest.mark.parametrize("typed", ["да", "подтверждаю", "растаймын", "ок", "иә"])
async def test_yes_at_the_confirmation(citizen: Citizen, store: BookingStore, typed: str) -> None:
    await start_at_office(citizen)
    await citizen.says("11.12")
    await citizen.says("10:00")
    ticket = await citizen.says(typed)
    assert "bk:my" in payloads(ticket), text_of(ticket)
    assert len(await bookings_of(store, citizen.id)) == 1


async def test_a_question_at_the_time_step_is_the_assistants(citizen: Citizen) -> None:
    await citizen.presses("lang:ru")
    await start_at_office(citizen)
    await citizen.says("в пятницу")
    answer = await citizen.says("а сколько делается дубликат?")
    assert "Не понял ответ" not in text_of(answer)
    assert answer.intent != "book_queue", text_of(answer)
    # The booking waited.
    confirm = await citizen.says("в 10 утра")
    assert "Подтвердить?" in text_of(confirm) and "11.12.2026" in text_of(confirm)


async def test_booking_after_grant_questions_is_the_grants_live_queue(citizen: Citizen) -> None:
    """ "вузға кезекке жазып қойыңыз" after grant questions: grants take no
    booking (a live queue at the university), not a duplicate's booking there."""
    await citizen.says("грантқа документы қайда сдать керек?")
    o = await citizen.says("онда вузға кезекке жазып қойыңыз")
    assert o.intent == "book_queue" and o.units[:1] == ["grant.queue"], o.units
    assert o.lang == "kk" and "алдын ала жазылусыз" in text_of(o)
    assert "Қаланы таңдаңыз" not in text_of(o)
