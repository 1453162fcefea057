"""End to end: the real bot process (`python -m bot`) talks HTTP to the fake
Bot API server, the way Telegram drives it.

The NLU here is the bot's degraded classifier (NLU_URL points where no Rasa
answers): these tests are about the transport. `test_real_rasa_*` at the
end runs the same questions through the session's real Rasa server.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from actions.i18n import Translator
from bot.dispatcher import COMMANDS
from bot.handlers.privacy import privacy_text
from bot.ratelimit import FloodPolicy
from nlu.light import LightModels
from nlu.pipeline import NLU
from storage import outbox
from storage.db import create_schema, make_engine, make_sessionmaker
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import (
    TEST_REDIS_URL,
    BotProcess,
    bot_env,
    free_port,
    new_id,
    start_bot,
)
from tests.telegram.transcript import SCRIPT, play, render

T = Translator()
KAZAKH_LETTERS = re.compile("[әғқңөұүһі]", re.IGNORECASE)
IIN = "870412300123"


def token_for(bot_id: int) -> str:
    return f"{bot_id}:AAH{secrets.token_urlsafe(24)}"


@pytest.fixture(scope="module", autouse=True)
def warm_models(light: LightModels) -> None:
    """Train (or load) the light models here, once, so that bot processes
    find them cached instead of each training them."""


@pytest.fixture(scope="module")
async def polling_bot(
    fake: FakeTelegram,
    database_url_for: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[BotProcess]:
    """One bot process in long-polling mode for the module (Redis when
    TEST_REDIS_URL is set, memory otherwise)."""
    env = bot_env(fake, token_for(new_id()), database_url_for("polling"), REDIS_URL=TEST_REDIS_URL)
    proc = await start_bot(fake, env, tmp_path_factory.mktemp("logs") / "polling.log")
    yield proc
    assert await proc.stop() == 0, proc.log()[-3000:]
    # Nothing personal or secret in what it logged.
    log = proc.log()
    assert proc.token.split(":")[1] not in log
    assert IIN not in log


async def test_commands_are_registered_in_both_languages(
    polling_bot: BotProcess, fake: FakeTelegram
) -> None:
    calls = fake.of("setMyCommands")
    assert {c.params.get("language_code") for c in calls} == {"kk", "ru", None}
    assert all([x["command"] for x in c.params["commands"]] == list(COMMANDS) for c in calls)


async def test_start_then_language_choice(polling_bot: BotProcess, fake: FakeTelegram) -> None:
    user = new_id()
    mark = fake.mark()
    fake.push(fake.text(user, "/start", lang="ru"))
    [greeting] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    assert "Сәлеметсіз бе" in greeting.text and "Здравствуйте" in greeting.text
    assert greeting.payloads == ["lang:kk", "lang:ru"]

    mark = fake.mark()
    fake.push(fake.press(user, "lang:kk", greeting))
    await fake.wait_for("answerCallbackQuery", since=mark)
    switched, menu = await fake.wait_for("sendMessage", chat_id=user, since=mark, count=2)
    assert switched.text == T("kk", "lang-switched")
    assert menu.text == T("kk", "menu-title") and "svc:duplicate" in menu.payloads
    [edit] = fake.of("editMessageText", since=mark)
    assert edit.text.endswith("» Қазақша")
    calls = [c.method for c in fake.calls[mark:] if c.chat_id in (None, user)]
    assert calls.index("answerCallbackQuery") < calls.index("sendMessage")


@pytest.mark.parametrize(
    ("lang", "question", "cite"),
    [
        ("ru", "Какие документы нужны для дубликата диплома?", "Источник:"),
        ("kk", "Дипломның телнұсқасын алу үшін қандай құжаттар керек?", "Дереккөз:"),
    ],
)
async def test_a_question_is_answered_in_its_language(
    polling_bot: BotProcess, fake: FakeTelegram, lang: str, question: str, cite: str
) -> None:
    user = new_id()
    mark = fake.mark()
    fake.push(fake.text(user, question, lang=None))
    [answer] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    assert cite in answer.text
    assert bool(KAZAKH_LETTERS.search(answer.text)) == (lang == "kk")
    assert "op" in answer.payloads and "menu" in answer.payloads


async def test_button_flow(polling_bot: BotProcess, fake: FakeTelegram) -> None:
    user = new_id()
    mark = fake.mark()
    fake.push(fake.text(user, "/cancel", lang="ru"))
    [menu] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    mark = fake.mark()
    fake.push(fake.press(user, "svc:grant", menu))
    [topics] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    assert "ask:ask_documents:grant" in topics.payloads
    mark = fake.mark()
    fake.push(fake.press(user, "ask:ask_documents:grant", topics))
    [answer] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    assert "Источник:" in answer.text or "Дереккөз:" in answer.text
    assert fake.of("answerCallbackQuery", since=mark)
    # The pressed keyboards are gone; the latest answer has the only live one.
    live = [m for (chat, _), m in fake.messages.items() if chat == user and m.get("reply_markup")]
    assert [m["message_id"] for m in live] == [answer.result["message_id"]]


async def test_sticker_photo_and_edit_get_short_replies(
    polling_bot: BotProcess, fake: FakeTelegram
) -> None:
    user = new_id()
    mark = fake.mark()
    fake.push(fake.sticker(user, lang="kk"))
    [reply] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    assert reply.text == T("kk", "tg-sticker")
    other = new_id()
    mark = fake.mark()
    fake.push(
        fake.photo(other, lang="ru", caption=f"мой ИИН {IIN}"), fake.edited(other, "исправил")
    )
    replies = await fake.wait_for("sendMessage", chat_id=other, since=mark, count=2)
    assert [r.text for r in replies] == [T("ru", "tg-photo"), T("ru", "tg-edited")]


async def test_an_iin_in_a_question_is_not_logged(
    polling_bot: BotProcess, fake: FakeTelegram
) -> None:
    user = new_id()
    mark = fake.mark()
    fake.push(fake.text(user, f"мой ИИН {IIN}, какой статус заявления?", lang="ru"))
    await fake.wait_for("sendMessage", chat_id=user, since=mark)
    # (the module fixture checks the log when the bot stops)


async def test_a_flood_gets_one_notice(polling_bot: BotProcess, fake: FakeTelegram) -> None:
    user = new_id()
    mark = fake.mark()
    fake.push(*(fake.text(user, f"дубликат диплома документы {i}", lang="ru") for i in range(40)))
    await fake.wait_for(
        "sendMessage", chat_id=user, since=mark, where=lambda c: c.text == T("ru", "tg-flood")
    )
    await fake.quiet(0.5)
    texts = fake.texts(user, since=mark)
    assert texts.count(T("ru", "tg-flood")) == 1
    # the burst, at most one refill, the notice
    assert len(texts) <= FloodPolicy().burst + 2


async def test_429_on_send_reply_arrives_after_retry_after(
    polling_bot: BotProcess, fake: FakeTelegram
) -> None:
    user = new_id()
    fake.fail_next("sendMessage", 1, status=429, retry_after=1)
    mark = fake.mark()
    fake.push(fake.text(user, "/privacy", lang="ru"))
    [reply] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    refused = [c for c in fake.of("sendMessage", since=mark, ok_only=False) if c.status == 429]
    assert refused and reply.at - refused[0].at >= 0.95
    assert reply.text == privacy_text(T, "ru")


async def test_a_redelivered_update_is_answered_once(
    polling_bot: BotProcess, fake: FakeTelegram
) -> None:
    user = new_id()
    update = fake.text(user, "/lang", lang="ru")
    mark = fake.mark()
    fake.push(update)
    await fake.wait_for("sendMessage", chat_id=user, since=mark)
    fake.redeliver(update)
    fake.redeliver(update)
    await fake.quiet(0.7)
    assert len(fake.of("sendMessage", chat_id=user, since=mark)) == 1


async def test_outbox_notification_is_delivered(
    polling_bot: BotProcess, fake: FakeTelegram, database_url_for: Callable[[str], str]
) -> None:
    user = new_id()
    engine = make_engine(database_url_for("polling"))
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            await outbox.enqueue(
                session,
                user,
                "Өтінішіңіз қабылданды.",
                buttons=[[{"text": "Мәзір", "payload": "menu"}]],
            )
    finally:
        await engine.dispose()
    [note] = await fake.wait_for("sendMessage", chat_id=user, timeout=10)
    assert note.text == "Өтінішіңіз қабылданды." and note.payloads == ["menu"]


# -- restarts ---------------------------------------------------------------------------
async def test_a_stopped_poller_confirms_what_it_handled(
    database_url_for: Callable[[str], str], tmp_path: Path
) -> None:
    """SIGTERM: in-hand updates finish and the offset is confirmed, so the
    next process does not get them again (no Redis needed)."""
    private = FakeTelegram()
    await private.start()
    try:
        env = bot_env(private, token_for(new_id()), database_url_for("restart"), REDIS_URL=None)
        first = await start_bot(private, env, tmp_path / "first.log")
        user = new_id()
        update = private.text(user, "/lang", lang="kk")
        private.push(update)
        await private.wait_for("sendMessage", chat_id=user)
        assert await first.stop() == 0
        confirmed = [int(c.params.get("offset") or 0) for c in private.of("getUpdates")]
        assert max(confirmed) == update["update_id"] + 1
        second = await start_bot(private, env, tmp_path / "second.log")
        await private.quiet(0.7)
        assert await second.stop() == 0
        assert len(private.of("sendMessage", chat_id=user)) == 1
    finally:
        await private.stop()


@pytest.mark.skipif(not TEST_REDIS_URL, reason="TEST_REDIS_URL not set")
async def test_after_a_crash_the_redelivered_update_is_dropped(
    database_url_for: Callable[[str], str], tmp_path: Path
) -> None:
    """SIGKILL after answering, before confirming: Telegram hands the update
    to the next process, whose Redis de-duplication drops it."""
    private = FakeTelegram()
    await private.start()
    try:
        env = bot_env(
            private, token_for(new_id()), database_url_for("crash"), REDIS_URL=TEST_REDIS_URL
        )
        first = await start_bot(private, env, tmp_path / "first.log")
        user = new_id()
        update = private.text(user, "/lang", lang="kk")
        private.push(update)
        await private.wait_for("sendMessage", chat_id=user)
        # Handled (marked done) once its poller asks past it; killed before
        # that, the update would be handled again (at least once).
        while not any(
            int(c.params.get("offset") or 0) > update["update_id"]
            for c in private.of("getUpdates", ok_only=False)
        ):
            await asyncio.sleep(0.02)
        first.process.kill()
        first.process.wait()
        second = await start_bot(private, env, tmp_path / "second.log")
        private.redeliver(update)  # unconfirmed when the first process died
        await private.quiet(0.5)
        assert await second.stop() == 0
        assert len(private.of("sendMessage", chat_id=user)) == 1
    finally:
        await private.stop()


# -- two webhook workers sharing Redis and the database ------------------------------------------
@pytest.fixture(scope="module")
async def webhook_pair(
    database_url_for: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[FakeTelegram, list[BotProcess]]]:
    if not TEST_REDIS_URL:
        pytest.skip("TEST_REDIS_URL not set: workers cannot share de-duplication")
    server = FakeTelegram()
    await server.start()
    token = token_for(new_id())
    logs = tmp_path_factory.mktemp("webhook")
    workers: list[BotProcess] = []
    try:
        envs = []
        for name in ("a", "b"):
            port = free_port()
            envs.append(
                bot_env(
                    server,
                    token,
                    database_url_for("webhook"),
                    REDIS_URL=TEST_REDIS_URL,
                    WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/{name}",
                    WEBHOOK_HOST="127.0.0.1",
                    WEBHOOK_PORT=str(port),
                )
            )
        # Workers start side by side; the schema is made first, as a
        # deployment's migration step would (two concurrent create_all on a
        # fresh PostgreSQL database can collide).
        engine = make_engine(database_url_for("webhook"))
        await create_schema(engine)
        await engine.dispose()
        started = await asyncio.gather(
            *(
                start_bot(server, env, logs / f"{i}.log", ready="setWebhook")
                for i, env in enumerate(envs)
            ),
            return_exceptions=True,
        )
        workers = [w for w in started if isinstance(w, BotProcess)]
        for failure in started:
            if isinstance(failure, BaseException):
                raise failure
        yield server, workers
    finally:
        codes = await asyncio.gather(*(w.stop() for w in workers))
        assert codes == [0] * len(workers), [w.log()[-3000:] for w in workers]
        await server.stop()


async def test_webhook_requires_the_secret(
    webhook_pair: tuple[FakeTelegram, list[BotProcess]],
) -> None:
    fake, workers = webhook_pair
    user = new_id()
    update = fake.text(user, "/lang")
    assert await fake.post_webhook(update, workers[0].webhook_url, secret="") == 401
    assert await fake.post_webhook(update, workers[0].webhook_url, secret="wrong") == 401
    await fake.quiet(0.3)
    assert fake.of("sendMessage", chat_id=user) == []
    assert await fake.post_webhook(update, workers[0].webhook_url) == 200
    await fake.wait_for("sendMessage", chat_id=user)


async def test_a_worker_without_rasa_is_alive_but_not_ready(
    webhook_pair: tuple[FakeTelegram, list[BotProcess]],
) -> None:
    """What the load balancer sees (bot/health.py): these workers' NLU_URL
    points where no Rasa answers, so they answer from the degraded
    classifier and say they are not ready; the database and Redis are."""
    _, workers = webhook_pair
    base = (workers[0].webhook_url or "").rsplit("/telegram/", 1)[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/readyz") as resp:
            assert resp.status == 503
            assert await resp.json() == {
                "ready": False,
                "database": True,
                "nlu": False,
                "redis": True,
                "stopping": False,
            }
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            health = await resp.json()
    assert health["ok"] is True and health["nlu"]["rasa_ok"] == 0


async def test_two_workers_answer_an_update_once(
    webhook_pair: tuple[FakeTelegram, list[BotProcess]],
) -> None:
    fake, _ = webhook_pair
    for _ in range(3):
        user = new_id()
        update = fake.text(user, "Какие документы нужны для дубликата диплома?", lang="ru")
        # The same update reaches both workers (a retry through the balancer).
        await asyncio.gather(*(fake.post_webhook(update, url) for url in list(fake.webhooks)))
        [answer] = await fake.wait_for("sendMessage", chat_id=user)
        assert "Источник:" in answer.text
        await fake.quiet(0.3)
        assert len(fake.of("sendMessage", chat_id=user)) == 1


async def test_a_conversation_across_workers(
    webhook_pair: tuple[FakeTelegram, list[BotProcess]],
) -> None:
    """State is in Redis and the language on the DB row: either worker
    continues the conversation."""
    fake, workers = webhook_pair
    a, b = (w.webhook_url or "" for w in workers)
    user = new_id()
    await fake.post_webhook(fake.text(user, "/start", lang="ru"), a)
    [greeting] = await fake.wait_for("sendMessage", chat_id=user)
    mark = fake.mark()
    await fake.post_webhook(fake.press(user, "lang:kk", greeting), b)
    await fake.wait_for("sendMessage", chat_id=user, since=mark, count=2)
    mark = fake.mark()
    await fake.post_webhook(fake.sticker(user, lang="ru"), a)
    [reply] = await fake.wait_for("sendMessage", chat_id=user, since=mark)
    assert reply.text == T("kk", "tg-sticker")  # the chosen language, not the app's


async def test_a_new_citizens_first_conversation(
    polling_bot: BotProcess, fake: FakeTelegram
) -> None:
    """The transcript script (tests/telegram/transcript.py): every step is
    answered, every press too, in Russian once Russian is chosen."""
    exchanges = await play(fake, new_id(), SCRIPT, timeout=15)
    transcript = render(exchanges)
    for ex in exchanges:
        sent = [c for c in ex.calls if c.method == "sendMessage"]
        assert sent, transcript
        if ex.step.press is not None:
            assert any(c.method == "answerCallbackQuery" for c in ex.calls), transcript
    after_choice = [c.text for ex in exchanges[1:] for c in ex.calls if c.method == "sendMessage"]
    kazakh_question = exchanges[6]
    assert kazakh_question.step.say == "Грантқа өтінішті қашан береміз?"
    russian = [c.text for ex in exchanges[1:6] for c in ex.calls if c.method == "sendMessage"]
    assert russian and not any(KAZAKH_LETTERS.search(t) for t in russian), transcript
    assert len(after_choice) >= len(exchanges) - 1


# -- with the real Rasa server -------------------------------------------------------------------
@pytest.mark.rasa
async def test_real_rasa_answers_in_each_language(
    rasa_nlu: NLU, database_url_for: Callable[[str], str], tmp_path: Path
) -> None:
    assert rasa_nlu.client is not None
    async with FakeTelegram() as private:
        env = bot_env(
            private,
            token_for(new_id()),
            database_url_for("rasa"),
            NLU_URL=rasa_nlu.client.url,
            NLU_TOKEN=rasa_nlu.client.token,
        )
        proc = await start_bot(private, env, tmp_path / "rasa.log")
        try:
            for lang, question, cite in (
                ("ru", "Какие документы нужны для дубликата диплома?", "Источник:"),
                ("kk", "Дипломның телнұсқасын алу үшін қандай құжаттар керек?", "Дереккөз:"),
                ("ru", "когда выдадут дубликат если сдать в цон", "Источник:"),
                ("kk", "грантқа өтініш қашан қабылданады", "Дереккөз:"),
            ):
                user = new_id()
                private.push(private.text(user, question, lang=None))
                [answer] = await private.wait_for("sendMessage", chat_id=user, timeout=20)
                assert cite in answer.text, (question, answer.text)
                assert bool(KAZAKH_LETTERS.search(answer.text)) == (lang == "kk")
            log = proc.log()
            assert "degraded mode" not in log
            # One line per message for the operator: what was understood, from
            # where, and how fast; never the citizen's words.
            turns = [line for line in log.splitlines() if "turn: " in line]
            assert len(turns) == 4, turns
            assert "lang=ru intent=ask_documents" in turns[0], turns[0]
            assert "unit=duplicate.documents nlu=rasa" in turns[0], turns[0]
            assert all("nlu=rasa" in line for line in turns), turns
            assert "документы" not in "\n".join(turns) and "құжаттар" not in "\n".join(turns)
        finally:
            assert await proc.stop() == 0


async def test_the_console_is_not_on_the_webhook_port(
    webhook_pair: tuple[FakeTelegram, list[BotProcess]],
) -> None:
    """The webhook port faces the internet; the agent console has its own
    listener on 127.0.0.1 (CONSOLE_PORT) and is not found here."""
    from urllib.parse import urlsplit

    import aiohttp

    _, workers = webhook_pair
    base = urlsplit(workers[0].webhook_url)
    async with aiohttp.ClientSession() as http:
        for path in ("/console/", "/console/login", "/console/api/suggest"):
            async with http.get(f"{base.scheme}://{base.netloc}{path}") as response:
                assert response.status == 404, path
