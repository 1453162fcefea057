"""Staff accounts of the agent console, and their login sessions.

Passwords are kept as salted scrypt hashes (hashlib.scrypt, a memory-hard
function: a stolen table is slow to brute-force). A session is a random
token in the agent's cookie; only its SHA-256 is stored, so the table does
not hold usable cookies either. Each session has its own CSRF token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    delete,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

# scrypt cost: 2**14 x 8 x 1 takes ~16 MB and some 50 ms here, per guess.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_LEN = 32
SALT_BYTES = 16
MIN_PASSWORD = 10
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
SESSION_TTL = timedelta(hours=12)


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    login: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AccountError(ValueError):
    pass


# -- passwords ------------------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


# Verified when the login does not exist, so that a wrong login takes as
# long as a wrong password (no way to learn which logins exist).
_DUMMY_HASH = hash_password("not a password", salt=b"\0" * SALT_BYTES)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Agent:
    """A logged-in staff member, as the console sees them."""

    account_id: int
    login: str
    csrf: str


class StaffDirectory:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ttl: timedelta = SESSION_TTL
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl

    # -- accounts ---------------------------------------------------------------------------
    async def add(self, login: str, password: str) -> int:
        """Create an account, or set a new password on an existing one; return its id."""
        login = login.strip().lower()
        if not LOGIN_RE.match(login):
            raise AccountError("login: 2-40 characters, a-z 0-9 . _ -")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")
        hashed = await asyncio.to_thread(hash_password, password)
        for _ in range(2):
            try:
                async with self.sessions() as session, session.begin():
                    account = (
                        await session.execute(
                            select(StaffAccount).where(StaffAccount.login == login)
                        )
                    ).scalar_one_or_none()
                    if account is None:
                        account = StaffAccount(login=login, password_hash=hashed, active=True)
                        session.add(account)
                    else:
                        account.password_hash = hashed
                        account.active = True
                        # A new password ends the sessions made with the old one.
                        await session.execute(
                            delete(StaffSession).where(StaffSession.account_id == account.id)
                        )
                    await session.flush()
                    return account.id
            except IntegrityError:
                continue  # created at the same moment elsewhere: update it
        raise AccountError("login taken concurrently; try again")

    async def disable(self, login: str) -> bool:
        async with self.sessions() as session, session.begin():
            account = (
                await session.execute(
                    select(StaffAccount).where(StaffAccount.login == login.strip().lower())
                )
            ).scalar_one_or_none()
            if account is None:
                return False
            account.active = False
            await session.execute(delete(StaffSession).where(StaffSession.account_id == account.id))
            return True

    async def logins(self) -> list[tuple[str, bool]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(StaffAccount.login, StaffAccount.active).order_by(StaffAccount.login)
            )
            return [(login, bool(active)) for login, active in rows]

    async def check(self, login: str, password: str) -> int | None:
        """The account id when `password` is right for an active `login`."""
        async with self.sessions() as session:
            account = (
                await session.execute(
                    select(StaffAccount).where(StaffAccount.login == login.strip().lower())
                )
            ).scalar_one_or_none()
        stored = account.password_hash if account is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, stored)
        if not ok or account is None or not account.active:
            return None
        return account.id

    # -- sessions ---------------------------------------------------------------------------
    async def start_session(self, account_id: int) -> str:
        """A new session; returns the cookie token (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.sessions() as session, session.begin():
            await session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
            session.add(
                StaffSession(
                    token_hash=_token_hash(token),
                    account_id=account_id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        return token

    async def agent(self, token: str | None) -> Agent | None:
        """Who holds this session cookie; None when unknown, expired or disabled."""
        if not token or len(token) > 100:
            return None
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(StaffSession, StaffAccount)
                    .join(StaffAccount, StaffAccount.id == StaffSession.account_id)
                    .where(StaffSession.token_hash == _token_hash(token))
                )
            ).one_or_none()
        if row is None:
            return None
        staff_session, account = row
        if not account.active or _aware(staff_session.expires_at) <= utcnow():
            return None
        return Agent(account.id, account.login, staff_session.csrf)

    async def end_session(self, token: str | None) -> None:
        if not token:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(StaffSession).where(StaffSession.token_hash == _token_hash(token))
            )
