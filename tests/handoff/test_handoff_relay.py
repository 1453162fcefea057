"""The hand-off end to end: citizen <-> staff topic through the fake Bot API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.i18n import Translator
from actions.suggest import answer
from knowledge.base import KnowledgeBase
from tests.fakes.telegram_api import Call
from tests.handoff.conftest import OUT_OF_HOURS, STAFF_CHAT, Desk
from tests.telegram.tg_support import new_id

T = Translator()


def suggestion_payloads(call: Call) -> list[str]:
    return [p for p in call.payloads if p.startswith("ho:sg:")]


async def hand_off(desk: Desk, user: int, text: str, lang: str = "ru") -> tuple[list[Call], int]:
    """The citizen asks for a person; returns what they were told and the topic."""
    mark = desk.fake.mark()
    told = await desk.say(user, text, lang)
    [topic] = desk.fake.of("createForumTopic", since=mark)
    assert topic.params["chat_id"] == STAFF_CHAT
    return told, int(topic.result["message_thread_id"])


async def test_round_trip_citizen_topic_agent_close(desk: Desk) -> None:
    user = new_id()
    # The citizen asks for a person.
    mark = desk.fake.mark()
    told, thread = await hand_off(desk, user, "соедините с оператором пожалуйста")
    assert T("ru", "ho-connecting") in told[-1].text
    assert "ho:close" in told[-1].payloads
    [header] = desk.staff_posts(mark)
    assert header.params["message_thread_id"] == thread
    assert T("ru", "ho-lang-ru") in header.text
    assert T("ru", "ho-staff-reason-asked") in header.text
    assert "соедините с оператором пожалуйста" in header.text  # the recent messages

    # The citizen's question reaches the topic, with suggested answers; the bot is silent.
    mark = desk.fake.mark()
    told = await desk.say(user, "какие документы нужны для дубликата диплома")
    assert told == []
    [relayed] = desk.staff_posts(mark)
    assert relayed.params["message_thread_id"] == thread
    assert "какие документы нужны для дубликата диплома" in relayed.text
    assert "ho:sg:ask_documents:duplicate:-" in suggestion_payloads(relayed)
    assert 1 <= len(suggestion_payloads(relayed)) <= 3
    assert all(len(p.encode()) < 64 for p in relayed.payloads)

    # The agent answers in the topic: the message is copied to the citizen.
    mark = await desk.agent_says("Здравствуйте! Сейчас помогу.", thread=thread)
    [copied] = desk.fake.of("copyMessage", since=mark)
    assert copied.chat_id == user
    assert int(copied.params["from_chat_id"]) == STAFF_CHAT
    assert desk.fake.messages[(user, copied.result["message_id"])]["text"] == (
        "Здравствуйте! Сейчас помогу."
    )

    # A note for colleagues stays in the group.
    mark = await desk.agent_says("// проверю в базе", thread=thread)
    assert desk.fake.of("copyMessage", since=mark) == []

    # /close gives the conversation back, telling the citizen.
    mark = await desk.agent_says("/close", thread=thread)
    [notice] = desk.fake.of("sendMessage", chat_id=user, since=mark)
    assert notice.text == T("ru", "ho-closed-staff")
    assert [T("ru", "ho-staff-closed-by-staff")] == [c.text for c in desk.staff_posts(mark)]
    assert (await desk.handoffs.open_of(user)) is None

    # The bot answers again, and nothing more goes to the topic.
    mark = desk.fake.mark()
    told = await desk.say(user, "сколько стоит дубликат диплома")
    assert told and told[0].text
    assert desk.staff_posts(mark) == []

    # An agent writing after the close is told the citizen is not connected.
    mark = await desk.agent_says("вы тут?", thread=thread)
    assert desk.fake.of("copyMessage", since=mark) == []
    assert [c.text for c in desk.staff_posts(mark)] == [T("ru", "ho-staff-not-open")]


async def test_suggestion_sends_the_answer_in_the_citizens_language(
    desk: Desk, kb: KnowledgeBase
) -> None:
    user = new_id()
    told, thread = await hand_off(desk, user, "маманмен сөйлескім келеді", lang="kk")
    assert T("kk", "ho-connecting") in told[-1].text
    mark = desk.fake.mark()
    await desk.say(user, "дипломның телнұсқасын алу үшін қандай құжаттар керек", lang="kk")
    [relayed] = desk.staff_posts(mark)
    payload = "ho:sg:ask_documents:duplicate:-"
    assert payload in suggestion_payloads(relayed)
    # The staff chat reads Russian, the preview is the citizen's Kazakh answer.
    expected = answer(kb, T, "ask_documents", "duplicate", None, "kk")
    assert expected is not None
    assert expected.text[:100] in relayed.text

    mark = await desk.agent_presses(relayed, payload)
    [sent] = desk.fake.of("sendMessage", chat_id=user, since=mark)
    assert sent.text == expected.message
    assert T("kk", "cite-line", cite="")[:5] in sent.text  # with its clause
    [toast] = desk.fake.of("answerCallbackQuery", since=mark)
    assert toast.params.get("text") == T("ru", "ho-staff-sent-toast")
    assert any(T("ru", "ho-staff-sent", title="")[:10] in c.text for c in desk.staff_posts(mark))

    # A double tap sends nothing more.
    mark = await desk.agent_presses(relayed, payload)
    assert desk.fake.of("sendMessage", chat_id=user, since=mark) == []


async def test_only_staff_chat_members_act_as_staff(desk: Desk, monkeypatch: Any) -> None:
    alice, bob = new_id(), new_id()
    _, thread = await hand_off(desk, alice, "позовите оператора")
    mark = desk.fake.mark()
    await desk.say(alice, "какие документы нужны для дубликата диплома")
    [relayed] = desk.staff_posts(mark)

    stranger = new_id()

    async def get_chat_member(token: str, params: dict[str, Any]) -> Any:
        who = int(params["user_id"])
        status = "left" if who == stranger else "member"
        return {"status": status, "user": desk.fake.user(who)}

    monkeypatch.setattr(desk.fake, "_m_getChatMember", get_chat_member)

    # Someone who is not (any more) in the staff chat: nothing reaches the citizen.
    mark = await desk.agent_says("я тоже отвечу", thread=thread, author=stranger)
    assert desk.fake.of("copyMessage", since=mark) == []
    mark = await desk.agent_presses(relayed, "ho:sg:ask_documents:duplicate:-", author=stranger)
    assert desk.fake.of("sendMessage", chat_id=alice, since=mark) == []
    [refusal] = desk.fake.of("answerCallbackQuery", since=mark)
    assert refusal.params.get("show_alert") is True
    assert refusal.params.get("text") == T("ru", "ho-staff-not-member")
    mark = await desk.agent_says("/close", thread=thread, author=stranger)
    assert (await desk.handoffs.open_of(alice)) is not None

    # A citizen pressing a forged staff button gets nothing of anyone else's.
    mark = desk.fake.mark()
    await desk.feed(
        desk.fake.press(
            bob,
            "ho:sg:ask_documents:duplicate:-",
            {"message_id": 1, "date": 0, "chat": {"id": bob, "type": "private"}, "text": "x"},
        )
    )
    assert desk.fake.of("sendMessage", chat_id=alice, since=mark) == []
    assert desk.staff_posts(mark) == []
    # (Bob is new: he is answered in his Telegram app's language, Russian.)
    assert [c.text for c in desk.fake.of("sendMessage", chat_id=bob, since=mark)] == [
        T("ru", "ho-none")
    ]

    # The agent's answer in Alice's topic reaches Alice only.
    mark = await desk.agent_says("Алиса, здравствуйте", thread=thread)
    assert [c.chat_id for c in desk.fake.of("copyMessage", since=mark)] == [alice]
    assert desk.fake.of("sendMessage", chat_id=bob, since=mark) == []


async def test_outside_staff_hours_the_citizen_is_told_when(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(now=OUT_OF_HOURS)  # a Sunday
    user = new_id()
    mark = desk.fake.mark()
    told, _ = await hand_off(desk, user, "соедините с оператором")
    text = told[-1].text
    assert T("ru", "reason-day_off") in text
    assert "17.03.2025 09:00" in text  # Monday morning
    assert "09:00" in text and "20:00" in text
    [header] = desk.staff_posts(mark)
    assert T("ru", "ho-staff-outside", next="17.03.2025 09:00") in header.text


async def test_without_a_staff_chat_the_citizen_is_sent_to_1414(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(staff_chat=None)
    user = new_id()
    mark = desk.fake.mark()
    told = await desk.say(user, "соедините с оператором")
    assert [c.text for c in told] == [T("ru", "ho-unavailable")]
    assert "1414" in told[0].text and "8 800 080 7777" in told[0].text
    assert desk.fake.of("createForumTopic", since=mark) == []
    # Nothing pretends a person is listening: the next question gets an answer.
    told = await desk.say(user, "какие документы нужны для дубликата диплома")
    assert told and T("ru", "ho-connecting") not in told[0].text


async def test_reply_threads_when_the_staff_chat_has_no_topics(desk: Desk) -> None:
    desk.fake.fail_next(
        "createForumTopic", status=400, description="Bad Request: the chat is not a forum"
    )
    user = new_id()
    mark = desk.fake.mark()
    told = await desk.say(user, "соедините с оператором")
    assert T("ru", "ho-connecting") in told[-1].text
    [header] = desk.staff_posts(mark)
    assert "message_thread_id" not in header.params
    assert T("ru", "ho-staff-howto-reply") in header.text

    mark = desk.fake.mark()
    await desk.say(user, "сколько стоит дубликат")
    [relayed] = desk.staff_posts(mark)
    assert relayed.params["reply_parameters"]["message_id"] == header.result["message_id"]

    # The agent replies to the citizen's message: it reaches the citizen.
    mark = await desk.agent_says("Услуга бесплатная.", reply_to=relayed.result)
    [copied] = desk.fake.of("copyMessage", since=mark)
    assert copied.chat_id == user
    # A message that replies to nothing of a citizen stays in the group.
    mark = await desk.agent_says("обед")
    assert desk.fake.of("copyMessage", since=mark) == []
    # /close as a reply to the header closes it.
    mark = await desk.agent_says("/close", reply_to=header.result)
    assert [c.text for c in desk.fake.of("sendMessage", chat_id=user, since=mark)] == [
        T("ru", "ho-closed-staff")
    ]


async def test_the_citizen_ends_the_conversation(desk: Desk) -> None:
    user = new_id()
    _, thread = await hand_off(desk, user, "нужен живой оператор")
    told = await desk.press(user, "ho:close")
    assert [c.text for c in told] == [T("ru", "ho-closed-citizen")]
    [note] = desk.fake.of("sendMessage", chat_id=STAFF_CHAT)[-1:]
    assert note.text == T("ru", "ho-staff-closed-by-citizen")
    assert note.params["message_thread_id"] == thread
    assert (await desk.handoffs.open_of(user)) is None
    # The bot is back.
    told = await desk.say(user, "какие документы нужны для дубликата диплома")
    assert told and told[0].text != ""

    # A second hand-off of the same citizen reuses their topic.
    mark = desk.fake.mark()
    await desk.say(user, "соедините с оператором")
    assert desk.fake.of("createForumTopic", since=mark) == []
    [header] = desk.staff_posts(mark)
    assert header.params["message_thread_id"] == thread


async def test_asking_twice_keeps_one_hand_off(desk: Desk) -> None:
    user = new_id()
    await hand_off(desk, user, "оператор")
    mark = desk.fake.mark()
    told = await desk.say(user, "/operator")  # the menu's operator button
    assert [c.text for c in told] == [T("ru", "ho-already")]
    assert desk.fake.of("createForumTopic", since=mark) == []
    assert len([h for h in await desk.handoffs.list_open() if h.user_id == user]) == 1


async def test_close_command_of_the_citizen(desk: Desk) -> None:
    user = new_id()
    await hand_off(desk, user, "оператор")
    told = await desk.say(user, "/close")
    assert [c.text for c in told] == [T("ru", "ho-closed-citizen")]
    assert (await desk.handoffs.open_of(user)) is None


async def test_second_misunderstanding_asks_then_hands_off(desk: Desk) -> None:
    """Two messages the bot cannot read: it asks whether the citizen wants a
    person (no topic opened behind their back); "yes" opens the topic, and
    the staff read why in words, not an intent name and a score."""
    user = new_id()
    await desk.say(user, "какие документы нужны для дубликата диплома")
    mark = desk.fake.mark()
    await desk.say(user, "фывапролдж ячсмить")
    told = await desk.say(user, "йцукенгшщз фывапр")
    assert desk.fake.of("createForumTopic", since=mark) == []
    assert told[-1].text == T("ru", "ask-clarify-operator")
    assert "op:not_understood" in told[-1].payloads
    told = await desk.press(user, "op:not_understood")
    assert T("ru", "ho-connecting-not-understood") in told[-1].text
    [header] = desk.staff_posts(mark)
    assert T("ru", "ho-staff-reason-not_understood") in header.text
    assert "nlu_fallback" not in header.text
    assert [h.reason for h in await desk.handoffs.list_open() if h.user_id == user] == [
        "not_understood"
    ]


async def test_the_header_shows_what_was_said_before(desk: Desk) -> None:
    user = new_id()
    await desk.say(user, "какие документы нужны для дубликата диплома")
    mark = desk.fake.mark()
    await hand_off(desk, user, "позовите оператора")
    [header] = desk.staff_posts(mark)
    lines = header.text.splitlines()
    asked = lines.index("👤 какие документы нужны для дубликата диплома")
    assert lines[asked + 1].startswith("🤖 ")  # the bot's answer to it
    assert "👤 позовите оператора" in lines


async def test_a_deleted_topic_is_made_again(desk: Desk) -> None:
    user = new_id()
    _, old = await hand_off(desk, user, "оператор")
    desk.fake.fail_next(
        "sendMessage", status=400, description="Bad Request: message thread not found"
    )
    mark = desk.fake.mark()
    told = await desk.say(user, "сколько стоит дубликат")
    assert told == []  # relayed after all
    [topic] = desk.fake.of("createForumTopic", since=mark)
    new = int(topic.result["message_thread_id"])
    assert new != old
    header, relayed = desk.staff_posts(mark)
    assert header.params["message_thread_id"] == relayed.params["message_thread_id"] == new
    assert "сколько стоит дубликат" in relayed.text
    mark = await desk.agent_says("Бесплатно.", thread=new)
    assert [c.chat_id for c in desk.fake.of("copyMessage", since=mark)] == [user]


async def test_cancel_ends_the_hand_off_too(desk: Desk) -> None:
    user = new_id()
    _, thread = await hand_off(desk, user, "оператор")
    mark = desk.fake.mark()
    told = await desk.say(user, "/cancel")
    assert told and told[-1].text == T("ru", "menu-title")
    [note] = desk.staff_posts(mark)
    assert note.text == T("ru", "ho-staff-closed-by-citizen")
    assert note.params["message_thread_id"] == thread
