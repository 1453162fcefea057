"""A citizen half-way through the application form asks for a person: the
form waits, and when the conversation comes back it continues where it
stopped (nothing typed is lost), whichever side ends the hand-off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actions.i18n import Translator
from tests.handoff.conftest import Desk
from tests.handoff.test_handoff_relay import hand_off
from tests.telegram.tg_support import new_id

T = Translator()


async def open_form(desk: Desk, user: int, lang: str) -> None:
    """The citizen asks to apply; the form asks for consent."""
    asking = (
        "диплом телнұсқасына өтініш бергім келеді"
        if lang == "kk"
        else "хочу подать заявление на дубликат диплома"
    )
    told = await desk.say(user, asking, lang)
    assert told and "app:consent:yes" in told[-1].payloads


async def start_form(desk: Desk, user: int, lang: str) -> None:
    """Consent, then the first two fields."""
    await open_form(desk, user, lang)
    await desk.press(user, "app:consent:yes", lang)
    await desk.say(user, "Ахметов Серік Болатұлы", lang)
    told = await desk.say(user, "Информатика", lang)
    # The third question (the university) is being asked.
    assert told and T(lang, "intake-ask-university") in told[-1].text


@pytest.mark.parametrize("lang", ["ru", "kk"])
@pytest.mark.parametrize("closer", ["citizen", "staff"])
async def test_the_form_waits_for_the_hand_off(
    make_desk: Callable[..., Desk], lang: str, closer: str
) -> None:
    desk = make_desk(with_intake=True)
    user = new_id()
    await start_form(desk, user, lang)

    asking = "оператормен байланыстырыңыз" if lang == "kk" else "соедините с оператором"
    told, thread = await hand_off(desk, user, asking, lang)
    assert T(lang, "ho-connecting") in told[-1].text
    # While a person has the conversation, what the citizen writes goes to the topic,
    # not into the form.
    mark = desk.fake.mark()
    assert await desk.say(user, "ҚазҰУ", lang) == []
    assert any("ҚазҰУ" in c.text for c in desk.staff_posts(mark))

    if closer == "citizen":
        [notice] = await desk.press(user, "ho:close", lang)
        assert T(lang, "ho-closed-citizen") in notice.text
    else:
        mark = await desk.agent_says("/close", thread=thread)
        [notice] = desk.fake.of("sendMessage", chat_id=user, since=mark)
        assert T(lang, "ho-closed-staff") in notice.text
    assert T(lang, "ho-draft-kept") in notice.text
    assert "app:resume" in notice.payloads

    # "Continue" asks the question the form stopped at; the first answers are kept.
    [resumed] = await desk.press(user, "app:resume", lang)
    assert T(lang, "intake-resumed") in resumed.text
    assert T(lang, "intake-ask-university") in resumed.text
    form = (await desk.assistant.states.load(user)).flow_data["form"]
    assert form["data"]["university_head_name"] == "Ахметов Серік Болатұлы"
    assert form["data"]["specialty"] == "Информатика"


async def test_without_a_form_nothing_to_resume(desk: Desk) -> None:
    user = new_id()
    await hand_off(desk, user, "соедините с оператором")
    [notice] = await desk.press(user, "ho:close")
    assert T("ru", "ho-draft-kept") not in notice.text
    assert not any(p.endswith(":resume") for p in notice.payloads)


@pytest.mark.parametrize("lang", ["ru", "kk"])
async def test_a_person_asked_for_at_the_consent_question(
    make_desk: Callable[..., Desk], lang: str
) -> None:
    """The form has only asked for consent: "позовите оператора" typed instead
    of a button reaches a person, not "use the buttons"."""
    desk = make_desk(with_intake=True)
    user = new_id()
    await open_form(desk, user, lang)
    calling = "маған операторды шақырыңызшы" if lang == "kk" else "позовите оператора"
    told, _thread = await hand_off(desk, user, calling, lang)
    assert T(lang, "ho-connecting") in told[-1].text
    assert not any(T(lang, "intake-err-use-buttons") in m.text for m in told)
