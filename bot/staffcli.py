"""`python -m bot staff add LOGIN` (password from stdin), `staff disable LOGIN`,
`staff list`: the agent console's accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from bot.settings import Settings
from storage.db import create_schema, make_engine, make_sessionmaker
from storage.staff import AccountError, StaffDirectory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="staff_cmd", required=True)
    add = sub.add_parser("add", help="create an account or set a new password (read from stdin)")
    add.add_argument("login")
    disable = sub.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("login")
    sub.add_parser("list", help="list the accounts")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise AccountError("the passwords differ")
        return first
    # Piped: the first line is the password (nothing is echoed or logged).
    return sys.stdin.readline().rstrip("\r\n")


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        await create_schema(engine)
        staff = StaffDirectory(make_sessionmaker(engine))
        if args.staff_cmd == "add":
            await staff.add(args.login, _read_password())
            sys.stdout.write(f"account {args.login.strip().lower()} ready\n")
        elif args.staff_cmd == "disable":
            if not await staff.disable(args.login):
                sys.stderr.write(f"no account {args.login}\n")
                return 1
            sys.stdout.write(f"account {args.login} disabled\n")
        else:
            for login, active in await staff.logins():
                sys.stdout.write((login if active else f"{login} (disabled)") + "\n")
    finally:
        await engine.dispose()
    return 0


def main(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except AccountError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
