"""Running the bot: log redaction, the webhook secret, the API server URL."""

from __future__ import annotations

import io
import logging

from pydantic import SecretStr

from bot.settings import Settings
from bot.telegram import Redact, make_bot, webhook_secret
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.tg_support import new_id

TOKEN = "7311111111:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_logs_never_show_the_token_or_an_iin() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redact(TOKEN))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET https://api.telegram.org/bot%s/getMe for 870412300123", TOKEN)
        try:
            raise ValueError(f"bad IIN 870412300123 with bot{TOKEN}")
        except ValueError:
            log.exception("failed")
        log.warning("another bot 5555555:AAFsomeOtherTokenValueXXXXXXXXXX")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert TOKEN not in out and TOKEN.split(":")[1] not in out
    assert "870412300123" not in out and "<iin>" in out
    assert "AAFsomeOtherToken" not in out
    assert "ValueError" in out  # the traceback itself stays


def test_user_ids_and_phone_like_numbers_are_left_alone() -> None:
    redact = Redact(TOKEN)
    assert (
        redact.mask("user 5766169511 chat -1001234567890") == "user 5766169511 chat -1001234567890"
    )


def test_webhook_secret_is_shared_by_workers_and_fits_telegram() -> None:
    settings = Settings(webhook_url="https://bot.example.kz/telegram")
    first, second = webhook_secret(settings, TOKEN), webhook_secret(settings, TOKEN)
    assert first == second and TOKEN not in first
    assert 1 <= len(first) <= 256 and first.replace("_", "").replace("-", "").isalnum()
    assert webhook_secret(settings, TOKEN + "x") != first
    chosen = Settings(webhook_secret=SecretStr("s3cret"))
    assert webhook_secret(chosen, TOKEN) == "s3cret"


async def test_the_bot_talks_to_the_configured_api_server(fake: FakeTelegram) -> None:
    bot = make_bot(f"{new_id()}:TEST", fake.url + "/")
    try:
        me = await bot.me()
    finally:
        await bot.session.close()
    assert me.username == "test_1414_bot"
    assert fake.of("getMe")[-1].token == bot.token
