"""Handler-level tests: real update JSON through the Dispatcher (filters and
middlewares run), a Bot whose session talks HTTP to the fake Bot API."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import select

from actions.events import Button, Event, Outcome, Reply
from bot.dispatcher import COMMANDS, build_dispatcher, set_bot_commands
from bot.handlers.privacy import privacy_text
from bot.render import TEXT_LIMIT
from storage import outbox
from storage.models import User
from tests.telegram.tg_support import Harness, new_id

KAZAKH_LETTERS = re.compile("[әғқңөұүһі]", re.IGNORECASE)


def t(h: Harness, lang: str, key: str, **args: Any) -> str:
    return h.assistant.t(lang, key, **args)


# -- /start and the language choice ------------------------------------------------
async def test_start_greets_in_both_languages_and_offers_the_choice(harness: Harness) -> None:
    user = new_id()
    [greeting] = await harness.say(user, "/start")
    assert "Сәлеметсіз бе" in greeting.text and "Здравствуйте" in greeting.text
    assert greeting.buttons == [
        [
            {"text": "Қазақша", "callback_data": "lang:kk"},
            {"text": "Русский", "callback_data": "lang:ru"},
        ]
    ]
    assert "parse_mode" not in greeting.params  # plain text: nothing to escape


async def test_language_choice_answers_the_press_retires_the_keyboard_and_shows_the_menu(
    harness: Harness,
) -> None:
    user, fake = new_id(), harness.fake
    await harness.say(user, "/start")
    mark = fake.mark()
    replies = await harness.press(user, "lang:ru")

    methods = [c.method for c in fake.calls[mark:]]
    assert methods[0] == "answerCallbackQuery"  # at once, before anything else
    [edit] = fake.of("editMessageText", since=mark)
    assert edit.text.endswith("» Русский") and "reply_markup" not in edit.params
    assert [r.text for r in replies[:1]] == [t(harness, "ru", "lang-switched")]
    menu = replies[-1]
    assert menu.text == t(harness, "ru", "menu-title")
    # One keyboard row per row of buttons, as the assistant laid them out.
    expected = harness.assistant.menu("ru").buttons
    assert [[b["callback_data"] for b in row] for row in menu.buttons] == [
        [b.payload for b in row] for row in expected
    ]
    async with harness.sessions() as session:
        row = await session.get(User, user)
    assert row is not None and row.language == "ru"


@pytest.mark.parametrize(
    ("lang", "question", "cite"),
    [
        ("ru", "Какие документы нужны для получения дубликата диплома?", "Источник:"),
        ("kk", "Дипломның телнұсқасын алу үшін қандай құжаттар керек?", "Дереккөз:"),
    ],
)
async def test_question_is_answered_in_its_language_with_the_source(
    harness: Harness, lang: str, question: str, cite: str
) -> None:
    replies = await harness.say(new_id(), question, lang=lang)
    assert len(replies) == 1
    assert cite in replies[0].text
    assert bool(KAZAKH_LETTERS.search(replies[0].text)) == (lang == "kk")
    assert replies[0].buttons, "an answer offers next steps"


async def test_button_flow_service_then_topic(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    await harness.say(user, "/start")
    await harness.press(user, "lang:ru")
    [topics] = await harness.press(user, "svc:duplicate")
    assert "ask:ask_documents:duplicate" in topics.payloads
    [answer] = await harness.press(user, "ask:ask_documents:duplicate")
    assert "Источник:" in answer.text
    # Every pressed keyboard was retired; only the latest message has one.
    live = [m for (chat, _), m in fake.messages.items() if chat == user and m.get("reply_markup")]
    assert [m["message_id"] for m in live] == [answer.result["message_id"]]


async def test_a_second_press_of_the_same_keyboard_is_answered_but_not_acted_on(
    harness: Harness,
) -> None:
    user, fake = new_id(), harness.fake
    [greeting] = await harness.say(user, "/start")
    mark = fake.mark()
    first = fake.press(user, "lang:kk", greeting)
    second = fake.press(user, "lang:kk", greeting)
    await asyncio.gather(harness.feed(first), harness.feed(second))
    assert len(fake.of("answerCallbackQuery", since=mark)) == 2
    assert [c.text for c in fake.of("sendMessage", since=mark)][:1] == [
        t(harness, "kk", "lang-switched")
    ]
    assert len(fake.of("sendMessage", since=mark)) == 2  # switched + menu, once


# -- commands ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "key"),
    [
        ("/operator", "operator-info"),
        ("/book", "booking-info"),
        ("/status", "status-info"),
        ("/cancel", "menu-title"),
    ],
)
async def test_shortcut_commands_are_the_menu_buttons(
    harness: Harness, command: str, key: str
) -> None:
    user = new_id()
    await harness.assistant.set_language(user, "ru")
    replies = await harness.say(user, command)
    assert replies and replies[0].text.startswith(t(harness, "ru", key))


async def test_help_lists_commands_and_shows_the_menu(harness: Harness) -> None:
    user = new_id()
    await harness.assistant.set_language(user, "kk")
    help_text, menu = await harness.say(user, "/help", lang="ru")
    assert help_text.text == t(harness, "kk", "tg-help")
    assert all(f"/{c}" in help_text.text for c in COMMANDS if c != "help")
    assert "svc:duplicate" in menu.payloads


async def test_lang_offers_both_languages(harness: Harness) -> None:
    [reply] = await harness.say(new_id(), "/lang")
    assert reply.payloads == ["lang:kk", "lang:ru"]


async def test_unknown_command_says_so_and_shows_the_menu(harness: Harness) -> None:
    user = new_id()
    replies = await harness.say(user, "/nonsense", lang="kk")
    assert replies[0].text == t(harness, "kk", "tg-unknown-command")
    assert "svc:duplicate" in replies[1].payloads


async def test_command_menu_is_registered_in_both_languages(harness: Harness) -> None:
    await set_bot_commands(harness.bot, harness.assistant.t)
    calls = harness.fake.of("setMyCommands")
    by_lang = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_lang) == {"kk", "ru", None}
    for commands in by_lang.values():
        assert [c["command"] for c in commands] == list(COMMANDS)
    kk = {c["command"]: c["description"] for c in by_lang["kk"]}
    ru = {c["command"]: c["description"] for c in by_lang["ru"]}
    default = {c["command"]: c["description"] for c in by_lang[None]}
    assert kk["forget"] != ru["forget"]
    assert default["forget"] == f"{kk['forget']} / {ru['forget']}"


# -- privacy ------------------------------------------------------------------------
async def test_privacy_says_what_is_kept(harness: Harness) -> None:
    user = new_id()
    await harness.assistant.set_language(user, "ru")
    [reply] = await harness.say(user, "/privacy")
    assert reply.text == privacy_text(harness.assistant.t, "ru")
    assert "/forget" in reply.text


async def test_forget_deletes_the_row_the_state_and_the_notifications(harness: Harness) -> None:
    user = new_id()
    await harness.assistant.set_language(user, "ru")
    await harness.say(user, "Какие документы нужны для дубликата диплома?")
    async with harness.sessions() as session, session.begin():
        await outbox.enqueue(session, user, "уведомление 1")
        await outbox.enqueue(session, user, "уведомление 2")
        await outbox.enqueue(session, user + 1, "чужое")
    assert (await harness.assistant.states.load(user)).last_intent is not None

    [reply] = await harness.say(user, "/forget")

    assert reply.text.startswith(t(harness, "ru", "tg-forget-done"))
    assert t(harness, "ru", "tg-forget-profile") in reply.text
    assert t(harness, "ru", "tg-forget-notifications", count=2) in reply.text
    async with harness.sessions() as session:
        assert await session.get(User, user) is None
        left = (await session.execute(select(outbox.OutboxMessage.chat_id))).scalars().all()
    assert left == [user + 1]
    conv = await harness.assistant.states.load(user)
    assert conv.lang is None and conv.last_intent is None

    [again] = await harness.say(user, "/forget")
    assert t(harness, "ru", "tg-forget-profile") not in again.text


# -- what is not text --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("sticker", "tg-sticker"),
        ("photo", "tg-photo"),
        ("voice", "tg-voice"),
        ("video", "tg-video"),
        ("document", "tg-document"),
        ("location", "tg-location"),
        ("contact", "tg-contact"),
    ],
)
@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_non_text_gets_a_short_reply_in_the_citizens_language(
    harness: Harness, kind: str, key: str, lang: str
) -> None:
    user, fake = new_id(), harness.fake
    parsed: list[str] = []
    original = harness.assistant.nlu.parse

    async def spy(text: str) -> Any:
        parsed.append(text)
        return await original(text)

    harness.assistant.nlu.parse = spy  # type: ignore[method-assign]
    mark = fake.mark()
    # The app's language is the only hint for a first-time user.
    await harness.feed(getattr(fake, kind)(user, lang=lang))
    [reply] = fake.of("sendMessage", chat_id=user, since=mark)
    assert reply.text == t(harness, lang, key)
    assert reply.payloads == ["menu"]
    assert parsed == []


async def test_the_conversation_language_beats_the_apps(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    await harness.assistant.set_language(user, "kk")
    mark = fake.mark()
    await harness.feed(fake.sticker(user, lang="ru"))
    assert fake.texts(user, since=mark) == [t(harness, "kk", "tg-sticker")]


async def test_edited_message_is_explained(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    mark = fake.mark()
    await harness.feed(fake.edited(user, "Какие документы нужны?", lang="ru"))
    assert fake.texts(user, since=mark) == [t(harness, "ru", "tg-edited")]


async def test_group_chats_are_not_answered(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    mark = fake.mark()
    await harness.feed(fake.text(user, "Какие документы нужны?", chat_type="supergroup"))
    assert fake.of("sendMessage", since=mark) == []


# -- rendering ------------------------------------------------------------------------
async def test_long_replies_are_split_on_paragraphs_keyboard_on_the_last(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    paragraphs = [f"Абзац {i}. " + "слово " * 150 for i in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(text) > 3 * TEXT_LIMIT

    async def long_answer(event: Event) -> Outcome:
        return Outcome([Reply(text, [[Button("Меню", "menu")]])], "ru")

    monkeypatch.setattr(harness.assistant, "handle", long_answer)
    replies = await harness.say(new_id(), "расскажи всё")
    assert len(replies) >= 4
    assert all(len(r.text) <= TEXT_LIMIT for r in replies)
    assert all(r.text.startswith("Абзац") for r in replies)  # cut between paragraphs
    assert [bool(r.buttons) for r in replies] == [False] * (len(replies) - 1) + [True]
    assert "\n\n".join(r.text for r in replies) == text


# -- failures -------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_failure_gets_an_apology_in_the_citizens_language(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: Event) -> Outcome:
        raise RuntimeError("knowledge base unavailable 870412300123")

    monkeypatch.setattr(harness.assistant, "handle", broken)
    user = new_id()
    await harness.assistant.set_language(user, lang)
    [apology] = await harness.say(user, "Какие документы нужны?")
    assert apology.text == t(harness, lang, "tg-error")
    assert apology.payloads == ["op", "menu"]
    assert "RuntimeError" in caplog.text


async def test_a_button_failure_still_answers_the_press(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, fake = new_id(), harness.fake
    await harness.say(user, "/start")

    async def broken(event: Event) -> Outcome:
        raise RuntimeError("boom")

    monkeypatch.setattr(harness.assistant, "handle", broken)
    mark = fake.mark()
    replies = await harness.press(user, "lang:ru")
    assert fake.of("answerCallbackQuery", since=mark)
    assert [r.text for r in replies] == [t(harness, "ru", "tg-error")]  # the app speaks Russian


async def test_429_is_waited_out_and_the_reply_arrives(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    fake.fail_next("sendMessage", 1, status=429, retry_after=1)
    mark = fake.mark()
    [reply] = await harness.say(user, "/lang")
    [refused] = [c for c in fake.of("sendMessage", since=mark, ok_only=False) if not c.ok]
    assert refused.status == 429
    assert reply.at - refused.at >= 0.95


async def test_server_errors_are_retried(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    fake.fail_next("sendMessage", 2, status=500)
    mark = fake.mark()
    replies = await harness.say(user, "/lang")
    assert len(replies) == 1
    assert len(fake.of("sendMessage", since=mark, ok_only=False)) == 3


# -- the pipeline: once, in order, not flooded -----------------------------------------------
async def test_a_redelivered_update_is_answered_once(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    update = fake.text(user, "/lang")
    mark = fake.mark()
    await harness.feed(update)
    await harness.feed(update)
    await asyncio.gather(harness.feed(update), harness.feed(update))
    assert len(fake.of("sendMessage", chat_id=user, since=mark)) == 1


async def test_one_citizens_updates_are_handled_in_order(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, fake = new_id(), harness.fake
    original = harness.assistant.handle

    async def slow_first(event: Event) -> Outcome:
        if event.text == "первый":
            # Longer than another citizen's whole answer on a loaded machine.
            await asyncio.sleep(1.0)
        outcome = await original(event)
        outcome.replies = [Reply(f"ответ: {event.text}")]
        # Answers: a burst of replies to fragments would be read as one (test_bursts.py).
        outcome.intent = "ask_documents"
        return outcome

    monkeypatch.setattr(harness.assistant, "handle", slow_first)
    mark = fake.mark()
    updates = [fake.text(user, w) for w in ("первый", "второй", "третий")]
    other = fake.text(new_id(), "другой человек")
    tasks = [asyncio.create_task(harness.feed(u)) for u in updates]
    tasks.append(asyncio.create_task(harness.feed(other)))
    await asyncio.gather(*tasks)
    assert fake.texts(user, since=mark) == ["ответ: первый", "ответ: второй", "ответ: третий"]
    # Another citizen is not held up by the first one's slow question.
    first_other = fake.of("sendMessage", chat_id=other["message"]["chat"]["id"], since=mark)[0]
    first_user = fake.of("sendMessage", chat_id=user, since=mark)[0]
    assert first_other.at < first_user.at
    assert len(harness.shared.locks) == 0  # no lock left behind


async def test_a_flood_gets_one_notice_and_is_not_fed_to_the_nlu(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    parsed: list[str] = []
    original = harness.assistant.nlu.parse

    async def spy(text: str) -> Any:
        parsed.append(text)
        return await original(text)

    harness.assistant.nlu.parse = spy  # type: ignore[method-assign]
    await harness.assistant.set_language(user, "ru")
    mark = fake.mark()
    flood = [fake.text(user, f"вопрос номер {i} про дубликат диплома") for i in range(40)]
    await asyncio.gather(*(harness.feed(u) for u in flood))
    texts = fake.texts(user, since=mark)
    notice = t(harness, "ru", "tg-flood")
    assert texts.count(notice) == 1
    burst = harness.shared.flood.burst
    # Messages read (one may be parsed again, read with the fragments before it).
    assert len({u["message"]["text"] for u in flood} & set(parsed)) <= burst + 1
    assert len(texts) <= burst + 2


async def test_a_flood_of_presses_is_always_answered(harness: Harness) -> None:
    user, fake = new_id(), harness.fake
    [greeting] = await harness.say(user, "/start")
    mark = fake.mark()
    presses = [fake.press(user, "lang:ru", greeting) for _ in range(12)]
    await asyncio.gather(*(harness.feed(p) for p in presses))
    assert len(fake.of("answerCallbackQuery", since=mark)) == 12


# -- several workers sharing Redis ----------------------------------------------------------------
async def test_two_dispatchers_sharing_redis_answer_an_update_once(
    redis_harness: Harness,
) -> None:
    h = redis_harness
    second = build_dispatcher(h.assistant, h.sessions, h.shared)
    user, fake = new_id(), h.fake
    update = fake.text(user, "/lang")
    mark = fake.mark()
    from aiogram.types import Update

    parsed = Update.model_validate(update, context={"bot": h.bot})
    await asyncio.gather(h.dp.feed_update(h.bot, parsed), second.feed_update(h.bot, parsed))
    assert len(fake.of("sendMessage", chat_id=user, since=mark)) == 1


async def test_redis_flood_notice_is_sent_once_across_workers(redis_harness: Harness) -> None:
    h = redis_harness
    second = build_dispatcher(h.assistant, h.sessions, h.shared)
    user, fake = new_id(), h.fake
    await h.assistant.set_language(user, "ru")
    mark = fake.mark()
    from aiogram.types import Update

    updates = [
        Update.model_validate(fake.text(user, f"сообщение {i}"), context={"bot": h.bot})
        for i in range(30)
    ]
    await asyncio.gather(
        *((h.dp if i % 2 else second).feed_update(h.bot, u) for i, u in enumerate(updates))
    )
    texts = fake.texts(user, since=mark)
    assert texts.count(t(h, "ru", "tg-flood")) == 1
    assert len(texts) <= h.shared.flood.burst + 2
