"""The call record schema through Alembic, on a SQLite file and on PostgreSQL (a schema of its own per test,
dropped afterwards): a fresh database, a database created by ``create_all`` before migrations (adopted with
its rows), a downgrade and upgrade round trip, and the migrated tables matching the models."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services import require_service
from voicebot.store import database
from voicebot.store.models import Base, CallRow, EventRow, TurnRow
from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore
from voicebot.types import now

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TABLES = {"calls", "turns", "events", "api_tokens", "users", "web_sessions", "agents", "desk_actions",
          "callbacks"}  # after every migration
TABLES |= {"queue_events", "agent_states"}  # 0010 reports
TABLES |= {"qa_corrections", "qa_scores"}  # 0009 QA
TABLES |= {"agent_presence"}  # 0012 desk
TABLES |= {"recordings"}  # 0007 recordings
TABLES |= {"pii_originals", "pii_audit"}  # 0008 PII
TABLES |= {"tickets", "ticket_history"}  # 0011 tickets
# 0009's full-text search index, not a model (SQLite: an FTS5 table and its shadow tables; PostgreSQL: a generated
# tsvector column of turns and its GIN index)
SEARCH_INDEX = ("turns_fts", "search_words", "ix_turns_search_words")
ORIGINAL_TABLES = {"calls", "turns", "events"}  # what 0001 created


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A PostgreSQL schema name of its own (created by the code under test), dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"voicebot_test_{uuid.uuid4().hex[:10]}"
    yield schema
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(url, schema): a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}", None
    return PG_URL, request.getfixturevalue("pg_schema")


async def _tables(engine: AsyncEngine, schema: str | None) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names(schema=schema))
    return {name for name in names if not name.startswith(SEARCH_INDEX)}


async def _model_differences(url: str, schema: str | None) -> list:
    """What Alembic's autogenerate would change to make the database match ``models.py`` (nothing, we hope)."""
    options = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    engine = create_async_engine(url, **options)

    def compare(conn: Connection) -> list:
        def modelled(name: str | None, kind: str, _: dict) -> bool:
            return name is None or not name.startswith(SEARCH_INDEX)

        return compare_metadata(MigrationContext.configure(conn, opts={"include_name": modelled}),
                                Base.metadata)

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_a_fresh_database_is_migrated_to_the_head_and_matches_the_models(target, tmp_path: Path) -> None:
    url, schema = target
    engine = database.connect(url, schema=schema)
    try:
        assert await database.current(engine, schema=schema) is None
        assert await database.upgrade(engine, schema=schema) == database.head()
        assert await database.current(engine, schema=schema) == database.head()
        assert await _tables(engine, schema) == TABLES | {"alembic_version"}
        assert await database.upgrade(engine, schema=schema) == database.head()  # twice: nothing to do
    finally:
        await engine.dispose()
    assert await _model_differences(url, schema) == []

    store = await SqlCallStore.open(url, tmp_path / "spool", schema=schema)  # start-up on a migrated database
    await store.call_started("c1", "+15550001", "banking", now())
    await store.call_ended("c1", "completed", now(), None)
    await store.flush()
    call = await SqlCallQueries(store.engine).get_call("c1")
    await store.close()
    assert call is not None and (call.flow, call.outcome, call.turn_count) == ("banking", "completed", 0)


async def _create_all_database(url: str, schema: str | None) -> None:
    """A database as voicebot made it before migrations: ``create_all`` of the three tables (unchanged since)
    plus ``schema_version`` = 1, with a call in it."""
    engine = database.connect(url, schema=schema)
    try:
        async with engine.begin() as conn:
            if schema:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            tables = [CallRow.__table__, TurnRow.__table__, EventRow.__table__]
            await conn.run_sync(Base.metadata.create_all, tables)
            await conn.execute(text(f'CREATE TABLE "{schema}".schema_version (version SERIAL NOT NULL, '
                                    "applied_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (version))"
                                    if schema else
                                    "CREATE TABLE schema_version (version INTEGER NOT NULL, "
                                    "applied_at DATETIME NOT NULL, PRIMARY KEY (version))"))
            rows = (("schema_version", {"version": 1, "applied_at": datetime.now(UTC)}),
                    ("calls", {"id": "old", "caller_id": "+15550002", "flow": "retail",
                               "started_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "outcome": "completed"}))
            for table, values in rows:
                if schema:
                    table = f'"{schema}".{table}'
                await conn.execute(text(f"INSERT INTO {table} ({', '.join(values)}) "
                                        f"VALUES ({', '.join(':' + k for k in values)})"), values)
    finally:
        await engine.dispose()


async def test_a_database_created_before_migrations_is_adopted_with_its_rows(target, tmp_path: Path) -> None:
    url, schema = target
    await _create_all_database(url, schema)

    store = await SqlCallStore.open(url, tmp_path / "spool", schema=schema)  # start-up adopts and upgrades
    await store.call_started("new", "+15550003", "banking", now())
    await store.flush()
    queries = SqlCallQueries(store.engine)
    old, new = await queries.get_call("old"), await queries.get_call("new")
    assert await database.current(store.engine, schema=schema) == database.head()
    tables = await _tables(store.engine, schema)
    await store.close()
    assert old is not None and (old.caller_id, old.flow, old.outcome) == ("+15550002", "retail", "completed")
    assert old.started_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert new is not None and new.flow == "banking"
    assert tables == TABLES | {"alembic_version"}  # Alembic versions the schema now
    assert await _model_differences(url, schema) == []


async def test_tables_of_an_unknown_version_are_refused(target) -> None:
    url, schema = target
    await _create_all_database(url, schema)
    engine = database.connect(url, schema=schema)
    try:
        async with engine.begin() as conn:
            table = f'"{schema}".schema_version' if schema else "schema_version"
            await conn.execute(text(f"UPDATE {table} SET version = 7"))
        with pytest.raises(RuntimeError, match="schema_version 7"):
            await database.upgrade(engine, schema=schema)
        assert await database.current(engine, schema=schema) is None  # nothing stamped, nothing changed
    finally:
        await engine.dispose()


async def test_downgrade_and_upgrade_round_trip_keeps_the_calls(target, tmp_path: Path) -> None:
    url, schema = target
    store = await SqlCallStore.open(url, tmp_path / "spool", schema=schema)
    await store.call_started("kept", "+15550004", "logistics", now())
    await store.close()

    engine = database.connect(url, schema=schema)
    try:
        assert await database.downgrade(engine, "0001", schema=schema) == "0001"
        assert await _tables(engine, schema) == ORIGINAL_TABLES | {"schema_version", "alembic_version"}
        async with engine.connect() as conn:
            table = f'"{schema}".schema_version' if schema else "schema_version"
            assert await conn.scalar(text(f"SELECT max(version) FROM {table}")) == 1
        assert await database.upgrade(engine, schema=schema) == database.head()
        assert "schema_version" not in await _tables(engine, schema)
        call = await SqlCallQueries(engine).get_call("kept")
        assert call is not None and call.flow == "logistics"

        assert await database.downgrade(engine, "base", schema=schema) is None
        assert await _tables(engine, schema) == {"alembic_version"}
        assert await database.upgrade(engine, schema=schema) == database.head()
        assert await _tables(engine, schema) == TABLES | {"alembic_version"}
        assert await SqlCallQueries(engine).get_call("kept") is None
    finally:
        await engine.dispose()
    assert await _model_differences(url, schema) == []


def test_voicebot_db_upgrade_and_current_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from voicebot.cli import app

    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'voicebot.db'}"
    runner = CliRunner()
    behind = runner.invoke(app, ["db", "current", "--url", url])
    assert behind.exit_code == 1 and behind.stdout.startswith(f"none (newest: {database.head()})")
    assert not (tmp_path / "var").exists()  # looking created nothing
    upgraded = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert upgraded.exit_code == 0 and f"at revision {database.head()}" in upgraded.stdout
    current = runner.invoke(app, ["db", "current", "--url", url])
    assert current.exit_code == 0 and current.stdout.startswith(f"{database.head()} (newest: {database.head()})")


@pytest.mark.postgres
async def test_workers_starting_together_on_postgres_migrate_one_at_a_time(pg_schema: str) -> None:
    engines = [database.connect(PG_URL, schema=pg_schema) for _ in range(3)]
    try:
        reached = await asyncio.gather(*(database.upgrade(engine, schema=pg_schema) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert reached == [database.head()] * 3
