"""A migrated call record database for store tests: a SQLite file, or a PostgreSQL schema of its own (dropped
afterwards). Use ``migrated_engine`` (or ``migrated_call_store``) from a fixture parametrised with ``DATABASES``;
``recorded_call`` writes a call into it."""

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
from voicebot.store.repo import SqlCallStore
from voicebot.types import Turn, now

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def _database(kind: str, folder: Path) -> AsyncIterator[tuple[str, str | None]]:
    """The URL and schema of a fresh database of ``kind`` (``sqlite`` or ``postgres``); the schema dropped after."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'voicebot.db'}", None
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"voicebot_test_{uuid.uuid4().hex[:10]}"
    try:
        yield PG_URL, schema
    finally:
        admin = create_async_engine(PG_URL)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def migrated_engine(kind: str, folder: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a database brought to the newest migration."""
    async with _database(kind, folder) as (url, schema):
        engine = database.connect(url, schema=schema)
        try:
            await database.upgrade(engine, schema=schema)
            yield engine
        finally:
            await engine.dispose()


@asynccontextmanager
async def migrated_call_store(kind: str, folder: Path) -> AsyncIterator[SqlCallStore]:
    """The call store as the service opens it (migrating the database), its spool in ``folder/spool``."""
    async with _database(kind, folder) as (url, schema):
        store = await SqlCallStore.open(url, folder / "spool", schema=schema)
        try:
            yield store
        finally:
            await store.close()


async def recorded_call(store: SqlCallStore, outcome: str, *turns: Turn, call_id: str | None = None,
                        caller_id: str = "+15550001", flow: str = "banking") -> str:
    """A call written as the service writes one (started now, its turns, ended now with ``outcome``) and flushed to
    the database; its id."""
    call_id = call_id or str(uuid.uuid4())
    await store.call_started(call_id, caller_id, flow, now())
    for turn in turns:
        await store.turn_completed(call_id, turn)
    await store.call_ended(call_id, outcome, now(), None)
    await store.flush()
    return call_id
