"""Engine and session factory; nothing connects at import time."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from sqlalchemy.engine import make_url
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
        return create_async_engine(url, connect_args={"timeout": 15})
    return create_async_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def load_all_models() -> None:
    """Import every module of the storage package, so that each table it
    declares on `Base` is in the metadata (create_all, Alembic)."""
    import storage

    for info in pkgutil.iter_modules(storage.__path__):
        importlib.import_module(f"storage.{info.name}")


async def create_schema(engine: AsyncEngine) -> None:
    load_all_models()
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
