"""Checks of what citizens type into the form: IIN, phone, year, names, noise."""

from __future__ import annotations

from datetime import date

import pytest

from actions import validators as v
from tests.applications.support import break_check_digit, make_iin

TODAY = date(2026, 11, 25)


# -- IIN ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "iin",
    [
        "870412300416",  # 12 Apr 1987, male
        make_iin(date(1987, 4, 12)),
        make_iin(date(1999, 12, 31), female=True),
        make_iin(date(2004, 2, 29)),  # leap day, 2000s
        make_iin(date(1899, 7, 1)),  # 1800s digit
    ],
)
def test_valid_iins_pass(iin: str) -> None:
    assert v.validate_iin(iin, TODAY) == iin


def test_iin_check_digit_matches_the_algorithm() -> None:
    # Weights 1..11: 8*1 + 7*2 + 0*3 + 4*4 + 1*5 + 2*6 + 3*7 + 0*8 + 0*9 + 4*10 + 1*11 = 127
    # and 127 mod 11 = 6.
    assert v.iin_check_digit("87041230041") == 6
    assert v.validate_iin("870412300416", TODAY) == "870412300416"
    with pytest.raises(v.Invalid):
        v.validate_iin("870412300415", TODAY)


def test_second_weighting_is_used_when_the_first_gives_ten() -> None:
    # Find 11 digits whose first weighting gives 10; the check digit then
    # comes from the weights 3..11,1,2 (or none exists).
    for serial in range(10000):
        first11 = f"8704123{serial:04d}"
        digits = [int(c) for c in first11]
        if sum(d * w for d, w in zip(digits, range(1, 12), strict=True)) % 11 != 10:
            continue
        weights2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
        second = sum(d * w for d, w in zip(digits, weights2, strict=True)) % 11
        expected = None if second == 10 else second
        assert v.iin_check_digit(first11) == expected
        if expected is not None:
            assert v.validate_iin(first11 + str(expected), TODAY)
            return
    pytest.fail("no IIN needing the second weighting found")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (break_check_digit("870412300416"), "iin-checksum"),
        ("87041230041А", "iin-digits"),  # a Cyrillic letter
        ("8704l2300415", "iin-digits"),  # an l for a 1
        ("８７０４１２３００４１５", "iin-digits"),  # full-width digits are not ASCII
        ("87041230041", "iin-length"),
        ("8704123004155", "iin-length"),
        ("871312300415", "iin-date"),  # month 13
        ("870230300415", "iin-date"),  # 30 February
        ("870412000415", "iin-date"),  # century digit 0
        ("870412700415", "iin-date"),  # century digit 7
        ("", "empty"),
        ("9" * 4000, "iin-length"),
    ],
)
def test_invalid_iins_are_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(v.Invalid) as caught:
        v.validate_iin(text, TODAY)
    assert caught.value.code == code


def test_iin_of_someone_born_tomorrow_is_refused() -> None:
    with pytest.raises(v.Invalid) as caught:
        v.validate_iin(make_iin(date(2026, 11, 26)), TODAY)
    assert caught.value.code == "iin-date"


def test_iin_separators_are_tolerated() -> None:
    assert v.validate_iin(" 870412 300416 ", TODAY) == "870412300416"
    assert v.validate_iin("870412-300416", TODAY) == "870412300416"


def test_masks_show_little() -> None:
    assert v.mask_iin("870412300416") == "8704******16"
    assert v.mask_phone("+77012345678") == "+7********78"
    assert v.mask_name("Ахметов Болат") == "А. Б."


# -- phone ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["+77012345678", "+7 701 234 56 78", "8 (701) 234-56-78", "87012345678", "77012345678"],
)
def test_phones_are_normalised(text: str) -> None:
    assert v.validate_phone(text) == "+77012345678"


@pytest.mark.parametrize(
    "text",
    ["7012345678", "+7701234567", "+770123456789", "+87012345678", "+380501234567", "тел", "8-701"],
)
def test_bad_phones_are_refused(text: str) -> None:
    with pytest.raises(v.Invalid) as caught:
        v.validate_phone(text)
    assert caught.value.code == "phone-format"


# -- year -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "year"),
    [("2012", 2012), ("1950", 1950), ("2026", 2026), ("2012 г.", 2012), ("2012 ж.", 2012)],
)
def test_years(text: str, year: int) -> None:
    assert v.validate_year(text, TODAY) == year


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2027", "year-future"),
        ("1949", "year-too-early"),
        ("12", "year-format"),
        ("две тысячи", "year-format"),
        ("1" * 4000, "year-format"),
    ],
)
def test_bad_years(text: str, code: str) -> None:
    with pytest.raises(v.Invalid) as caught:
        v.validate_year(text, TODAY)
    assert caught.value.code == code


# -- names and free text ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Ахметов Болат Серикович",
        "Әбілқасымова Гүлнұр Қанатқызы",
        "Иванова-Петрова Анна",
        "O'Brien John",
        "Сейтов Б. Н.",
    ],
)
def test_names(text: str) -> None:
    assert v.validate_full_name(text) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Болат", "name-short"),
        ("Ахметов 2", "name-digits"),
        ("Ахметов <script>", "name-chars"),
        ("", "empty"),
        ("а" * 4000, "too-long"),
    ],
)
def test_bad_names(text: str, code: str) -> None:
    with pytest.raises(v.Invalid) as caught:
        v.validate_full_name(text)
    assert caught.value.code == code


def test_noise_is_refused_not_kept() -> None:
    noise = "ʕ•ᴥ•ʔ ываыва " * 400  # ~5,000 characters
    with pytest.raises(v.Invalid) as caught:
        v.validate_text(noise)
    assert caught.value.code == "too-long"
    assert caught.value.args_["limit"] == v.TEXT_MAX


def test_text_is_cleaned() -> None:
    assert v.validate_text("  Информационные\u200b   системы\n") == "Информационные системы"
    with pytest.raises(v.Invalid):
        v.validate_text("1234 !!!")
