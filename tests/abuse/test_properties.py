"""Property-based tests: whatever a citizen types (any Unicode up to
Telegram's 4,096 characters, control and zero-width characters, emoji,
markup, SQL-looking text), normalisation, language detection, the degraded
NLU, every form field and the whole dialogue answer without an exception."""

from __future__ import annotations

import itertools
import unicodedata
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.assistant import Assistant
from actions.events import Event
from actions.intake.form import STEPS, check
from actions.validators import (
    Invalid,
    validate_full_name,
    validate_iin,
    validate_phone,
    validate_text,
    validate_year,
)
from nlu.light import LightModels
from nlu.normalize import MAX_CHARS, clean, fold, has_letters
from nlu.pipeline import FALLBACK_INTENT, NLU

TELEGRAM_MAX = 4096
TODAY = date(2026, 12, 9)

# Pieces that break naive code: invisible and control characters, bidi
# marks, emoji with joiners and skin tones, markup, SQL, Kazakh in three
# scripts, digits that look like IINs, phones and dates.
NASTY = [
    "\u200b",
    "\u200d",
    "\u200e",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\u00ad",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u2028",
    "\u0301",
    "İ",
    "ß",
    "ﬁ",
    "Ⅻ",
    "𝔸",
    "ǅ",
    "👨‍👩‍👧‍👦",
    "👍🏽",
    "🇰🇿",
    "❤️",
    "<b>",
    "</i>",
    "<a href='tg://user?id=1'>x</a>",
    "*bold*",
    "`code`",
    "[link](http://x)",
    "&amp;",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "%s%n",
    "\\",
    "'; DROP TABLE users; --",
    "1' OR '1'='1",
    "UNION SELECT iin FROM applications",
    "/start",
    "/forget",
    "bk:cy:ABC123",
    "дубликат диплома",
    "дипломның телнұсқасы",
    "diplomnyn telnusqasy",
    "кандай кужат керек",
    "грант",
    "ХҚО",
    "ЦОН-ға",
    "870412300123",
    "+7 701 234 56 78",
    "12.03.2026",
    "DUP-2026-00001",
    "ааааааааааа",
    "?",
    "!!!",
    " ",
    "-",
    "ё",
    "Ә",
    "q",
    "sh",
]

nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=20)), max_size=60).map(
    "".join
)
long_text = st.builds(
    lambda piece, n: (piece * n)[:TELEGRAM_MAX],
    st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=30)),
    st.integers(min_value=1, max_value=TELEGRAM_MAX),
)
any_text = st.one_of(st.text(max_size=TELEGRAM_MAX), nasty_text, long_text)

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
SLOW_PROPS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff", "\u00ad", "\u2060"}


def _no_controls(text: str) -> bool:
    return not any(
        unicodedata.category(ch) == "Cc" and ch not in " " or ch in INVISIBLE for ch in text
    )


# -- normalisation ------------------------------------------------------------------
@PROPS
@given(any_text)
def test_clean_is_bounded_printable_and_stable(text: str) -> None:
    once = clean(text)
    assert len(once) <= MAX_CHARS
    assert once == once.lstrip()
    assert _no_controls(once)
    assert clean(once) == once.rstrip()


def test_a_cut_message_does_not_end_in_a_space() -> None:
    assert clean("0" * (MAX_CHARS - 1) + " 0") == "0" * (MAX_CHARS - 1)


@PROPS
@given(any_text)
def test_fold_is_bounded_lower_case_and_settles(text: str) -> None:
    once = fold(text)
    # Latin "x" becomes "кс" and a date " дата ": at most about twice as long.
    assert len(once) <= 3 * MAX_CHARS
    assert _no_controls(once)
    assert not set(once) & set("әғқңөұүһіёЁ")
    twice = fold(once)
    assert len(twice) <= len(once)
    assert fold(twice) == twice
    assert has_letters(once) in (True, False)


# -- language detection ---------------------------------------------------------------
@PROPS
@given(any_text)
def test_language_is_always_kazakh_or_russian(light: LightModels, text: str) -> None:
    lang, confidence = light.detect_language(clean(text))
    assert lang in ("kk", "ru")
    assert 0.0 <= confidence <= 1.0


# -- the NLU without Rasa ------------------------------------------------------------
@SLOW_PROPS
@given(any_text)
async def test_degraded_nlu_understands_or_says_it_does_not(light: LightModels, text: str) -> None:
    nlu = NLU(client=None, light=light)
    result = await nlu.parse(text)
    assert result.language in ("kk", "ru")
    assert len(result.text) <= MAX_CHARS
    assert 0.0 <= result.confidence <= 1.0
    assert all(0.0 <= r["confidence"] <= 1.0 for r in result.ranking)
    assert FALLBACK_INTENT not in [r["name"] for r in result.ranking]
    if has_letters(result.normalized):
        assert result.degraded and result.source == "fallback"
        assert nlu.stats.degraded == 1
    else:
        assert result.intent == FALLBACK_INTENT and result.source == "rule"


# -- every form field ------------------------------------------------------------------
def _field_value_or_invalid(fn: object, text: str) -> object:
    try:
        return fn(text)  # type: ignore[operator]
    except Invalid as exc:
        assert exc.key.startswith("intake-err-")
        return None


@PROPS
@given(any_text)
def test_every_form_field_accepts_or_refuses_politely(text: str) -> None:
    name = _field_value_or_invalid(validate_full_name, text)
    if name is not None:
        assert isinstance(name, str) and 0 < len(name) <= 150 and _no_controls(name)
    free = _field_value_or_invalid(validate_text, text)
    if free is not None:
        assert isinstance(free, str) and 0 < len(free) <= 200 and _no_controls(free)
    year = _field_value_or_invalid(lambda t: validate_year(t, TODAY), text)
    if year is not None:
        assert isinstance(year, int) and 1950 <= year <= TODAY.year
    iin = _field_value_or_invalid(lambda t: validate_iin(t, TODAY), text)
    if iin is not None:
        assert isinstance(iin, str) and len(iin) == 12 and iin.isascii() and iin.isdigit()
    phone = _field_value_or_invalid(validate_phone, text)
    if phone is not None:
        assert isinstance(phone, str) and phone.startswith("+7") and len(phone) == 12
    for step in STEPS:
        if step.kind in ("name", "text", "optional", "year", "iin", "phone"):
            _field_value_or_invalid(lambda t, s=step: check(s, t, TODAY), text)


# -- the whole dialogue -------------------------------------------------------------------
_citizens = itertools.count(9_700_000)


@SLOW_PROPS
@given(
    st.lists(
        st.one_of(
            any_text.map(lambda t: ("text", t)),
            st.sampled_from(
                [
                    "menu",
                    "op",
                    "cancel",
                    "lang:ru",
                    "lang:kk",
                    "ask:book_queue",
                    "ask:check_status",
                    "app:start",
                    "app:consent:yes",
                    "bk:s:duplicate",
                    "bk:o:ast-psc1",
                    "svc:duplicate",
                ]
            ).map(lambda p: ("button", p)),
        ),
        min_size=1,
        max_size=4,
    )
)
async def test_the_assistant_always_answers(
    assistant: Assistant, steps: list[tuple[str, str]]
) -> None:
    user = next(_citizens)
    for kind, value in steps:
        event = Event(user, text=value) if kind == "text" else Event(user, button=value)
        outcome = await assistant.handle(event)
        assert outcome.lang in ("kk", "ru")
        assert outcome.replies, (kind, value[:80])
        for reply in outcome.replies:
            assert reply.text.strip(), (kind, value[:80])
            # Telegram refuses a message over 4,096 characters, a callback over 64 bytes.
            assert len(reply.text) <= TELEGRAM_MAX
            for button in reply.flat_buttons():
                assert button.text and len(button.payload.encode()) <= 64
