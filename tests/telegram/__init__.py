"""Tests of the Telegram front end (bot/): handlers, transport, the real bot process."""
