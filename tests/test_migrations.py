"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from storage.db import create_schema, load_all_models, make_engine
from storage.models import Base


def _diff(conn) -> list:  # type: ignore[no-untyped-def]
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(ctx, Base.metadata)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migrations_match_the_models(backend: str, tmp_path: Path) -> None:
    load_all_models()
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            pytest.skip("TEST_DATABASE_URL not set")
        admin = make_engine(base)
        name = f"mig_{os.getpid()}"
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
        url = base.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        await create_schema(engine)
        await create_schema(engine)  # idempotent
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        assert diff == [], diff
        assert version == "0001"
    finally:
        await engine.dispose()
        if backend == "postgresql":
            async with admin.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await admin.dispose()
