"""`python -m bot` (Telegram when BOT_TOKEN is set, else the terminal chat)
and `python -m bot chat [--jsonl]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot import staffcli
from bot.app import build_app
from bot.chat import run_interactive, run_jsonl
from bot.settings import Settings


async def _chat(settings: Settings, jsonl: bool) -> None:
    async with build_app(settings) as app:
        if jsonl:
            await run_jsonl(app.assistant)
        else:
            await run_interactive(app.assistant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    sub = parser.add_subparsers(dest="cmd")
    chat = sub.add_parser("chat", help="terminal conversation with the assistant")
    chat.add_argument("--jsonl", action="store_true", help="JSON lines in and out")
    staffcli.add_arguments(sub.add_parser("staff", help="agent console accounts"))
    args = parser.parse_args(argv)
    settings = Settings()
    if args.cmd == "staff":
        return staffcli.main(args, settings)
    logging.basicConfig(
        level=logging.WARNING
        if args.cmd == "chat" or not settings.bot_token
        else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Drivers log SQL with its parameters at DEBUG: names and phones would
    # reach the log; SQLAlchemy logs every statement at INFO (half the log,
    # and CPU, under load). Warnings and errors only, whatever the root level.
    # fontTools logs some forty lines per PDF at INFO.
    for noisy in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool", "fontTools"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.cmd == "chat" or settings.bot_token is None:
        asyncio.run(_chat(settings, jsonl=getattr(args, "jsonl", False)))
        return 0
    from bot.telegram import run_telegram

    asyncio.run(run_telegram(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
