"""Configuration from the environment (and an optional .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    # Seconds a message waits for Rasa before the fallback classifier answers
    # that message (a burst longer than the Rasa servers can take). The
    # pipeline's own default (nlu.pipeline.SLOW_AFTER; not imported here: the
    # migrations read these settings without loading the NLU).
    nlu_slow_after: float = Field(default=1.5, gt=0)
    staff_chat_id: int | None = None
    # The staff chat's own language (headers, notes, buttons): "ru" or "kk".
    staff_lang: Literal["ru", "kk"] = "ru"
    # A hand-off nobody wrote in for this long goes back to the assistant.
    handoff_idle_hours: float = Field(default=24.0, gt=0)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 - the webhook must be reachable
    webhook_port: int = 8080
    log_level: str = "INFO"
    console_port: int = 8088  # the agent console, when the bot polls (127.0.0.1)
    # The console's reverse proxy (IPs or networks, comma-separated): its
    # X-Forwarded-For names the agent's address (login throttling, the log).
    console_trusted_proxy: str | None = None
    # Retention of personal data, in days (storage/retention.py; /privacy lists them).
    retention_application_days: int = Field(default=365, gt=0)  # after issued / rejected
    retention_open_application_days: int = Field(default=730, gt=0)  # open, untouched
    retention_handoff_days: int = Field(default=30, gt=0)  # after the hand-off closed
    retention_outbox_days: int = Field(default=30, gt=0)  # notifications
    retention_booking_days: int = Field(default=90, gt=0)  # after the visit
    retention_user_days: int = Field(default=365, gt=0)  # citizen not seen
