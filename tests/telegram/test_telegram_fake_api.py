"""The fake Bot API server answers what aiogram sends, as Telegram would
(other suites build on it: the staff chat, notifications)."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramServerError
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import new_id

MARKUP = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])


async def test_messages_edits_and_answers(fake: FakeTelegram, bot: Bot) -> None:
    chat = new_id()
    sent = await bot.send_message(chat, "сәлем", reply_markup=MARKUP)
    [call] = fake.of("sendMessage", chat_id=chat)
    assert call.text == "сәлем" and call.payloads == ["a"]
    await bot.edit_message_reply_markup(chat_id=chat, message_id=sent.message_id, reply_markup=None)
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_reply_markup(
            chat_id=chat, message_id=sent.message_id, reply_markup=None
        )
    edited = await bot.edit_message_text("жаңа", chat_id=chat, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "жаңа"
    assert await bot.answer_callback_query("17", text="ok")
    assert await bot.send_chat_action(chat, "typing")
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.send_message(chat, "x" * 4097)


async def test_staff_chat_methods(fake: FakeTelegram, bot: Bot) -> None:
    group, agent = -100_123, new_id()
    member = await bot.get_chat_member(group, agent)
    assert member.user.id == agent and member.status == "member"
    topic = await bot.create_forum_topic(group, "Азамат 42")
    assert topic.message_thread_id > 0
    original = await bot.send_message(agent, "сұрақ")
    forwarded = await bot.forward_message(group, agent, original.message_id)
    assert forwarded.text == "сұрақ"
    copied = await bot.copy_message(group, agent, original.message_id)
    assert copied.message_id > forwarded.message_id
    doc = await bot.send_document(
        group, BufferedInputFile(b"%PDF-1.4", "application.pdf"), caption="Өтініш"
    )
    assert doc.document is not None and doc.document.file_name == "application.pdf"
    [call] = fake.of("sendDocument", chat_id=group)
    assert call.params["document"]["size"] == 8


async def test_long_poll_waits_for_an_update(fake: FakeTelegram, bot: Bot) -> None:
    user = new_id()
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    update = fake.text(user, "/start")
    fake.push(update)
    [got] = await asyncio.wait_for(waiting, 2)
    assert got.update_id == update["update_id"] and got.message is not None
    assert got.message.text == "/start"
    # Confirmed by the next offset; handed out again only on redelivery.
    assert await bot.get_updates(offset=got.update_id + 1, timeout=0) == []
    fake.redeliver(update)
    [again] = await bot.get_updates(offset=got.update_id + 1, timeout=0)
    assert again.update_id == got.update_id


async def test_webhook_and_polling_exclude_each_other(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s")
    assert fake.webhooks == {"http://127.0.0.1:9/hook": "s"}
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []


async def test_faults_are_injected_per_method(fake: FakeTelegram) -> None:
    # No retry middleware here: the faults are seen as they come.
    raw = Bot(f"{new_id()}:TEST", session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    try:
        fake.fail_next("sendMessage", 2, status=500)
        for _ in range(2):
            with pytest.raises(TelegramServerError, match="Internal"):
                await raw.send_message(1, "x")
        assert (await raw.send_message(1, "x")).text == "x"
        fake.delay_next("getMe", 0.3)
        started = asyncio.get_running_loop().time()
        await raw.get_me()
        assert asyncio.get_running_loop().time() - started >= 0.3
    finally:
        await raw.session.close()
