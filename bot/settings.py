"""Configuration from the environment (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    database_url: str = f"sqlite+aiosqlite:///{REPO / 'var' / 'bot.db'}"
    redis_url: str | None = None
    nlu_url: str = "http://127.0.0.1:5005"
    nlu_token: SecretStr | None = None
    staff_chat_id: int | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 - the webhook must be reachable
    webhook_port: int = 8080
    log_level: str = "INFO"
    console_port: int = 8088  # the agent console, when the bot polls (127.0.0.1)
