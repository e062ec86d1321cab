"""A migrated call record database for store tests: a SQLite file, or a PostgreSQL schema of its own (dropped
afterwards). Use ``migrated_engine`` from a fixture parametrised with ``DATABASES``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services import require_service
from voicebot.store import database

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def migrated_engine(kind: str, folder: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a database brought to the newest migration; ``kind`` is ``sqlite`` or ``postgres``."""
    schema = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'voicebot.db'}"
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        url, schema = PG_URL, f"voicebot_test_{uuid.uuid4().hex[:10]}"
    engine = database.connect(url, schema=schema)
    try:
        await database.upgrade(engine, schema=schema)
        yield engine
    finally:
        await engine.dispose()
        if schema:
            admin = create_async_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await admin.dispose()
