"""Engine and session factory; nothing connects at import time."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.models import Base


def make_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(url, connect_args={"timeout": 15}, hide_parameters=True)
    # hide_parameters: SQL errors must not carry names, IINs or phones into logs.
    # The pool: a poller handles up to 256 updates at once, each holding a
    # connection for a few milliseconds; 5 + 10 ran out under a soak at
    # peak load (a 30 s wait, then an apology). 40 per process at most.
    return create_async_engine(
        url, pool_pre_ping=True, hide_parameters=True, pool_size=20, max_overflow=20
    )


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or went away mid-way (a restart, a
    crash, a network cut): worth trying again later, unlike a bug. An open
    transaction is rolled back by the server; a COMMIT cut off on its way
    may or may not have happened, which the callers' idempotency keys
    (booking confirmation, application token) settle on the retry."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, (OSError, TimeoutError)):  # refused, reset, unreachable
        return True
    # SQLSTATE class 08 (connection exception), 57P (shutting down, starting up).
    state = str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")
    return state.startswith(("08", "57P"))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def load_all_models() -> None:
    """Import every module of the storage package, so that each table it
    declares on `Base` is in the metadata (create_all, Alembic)."""
    import storage

    for info in pkgutil.iter_modules(storage.__path__):
        importlib.import_module(f"storage.{info.name}")


MIGRATIONS_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    if conn.dialect.name == "postgresql":
        # Several workers may start at once on a new database: one migrates.
        conn.execute(text("SELECT pg_advisory_xact_lock(1414654)"))
    cfg = Config(str(MIGRATIONS_INI))
    cfg.attributes["connection"] = conn
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" not in tables and tables & set(Base.metadata.tables):
        # Made by create_all before migrations existed: bring it under them.
        Base.metadata.create_all(conn)
        command.stamp(cfg, "head")
    else:
        command.upgrade(cfg, "head")


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the current schema (Alembic migrations)."""
    load_all_models()
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
