"""The call record database: the async engine, and its schema brought up to date by Alembic.

The schema changes only through the migrations in ``migrations/versions/``. ``upgrade`` applies them (at
start-up and by ``voicebot db upgrade``); a database created before Alembic (by ``create_all``, with the
``schema_version`` table at version 1) is adopted: stamped at ``0001`` and upgraded from there, its data
kept. Alembic runs synchronously inside ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
PRE_ALEMBIC_REVISION = "0001"  # what a create_all database of schema_version 1 holds
MIGRATION_LOCK = 0x766F6963  # PostgreSQL advisory lock key: workers starting together migrate one at a time


def connect(url: str, *, busy_timeout_ms: int = 5000, schema: str | None = None) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite:///file`` (WAL, ``busy_timeout``, foreign keys) or
    ``postgresql+asyncpg://…``. ``schema`` (PostgreSQL) puts the tables in that schema."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    options: dict[str, Any] = {"pool_pre_ping": not sqlite}
    if sqlite:
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": busy_timeout_ms / 1000}
    else:
        options["connect_args"] = {"timeout": 5}
    if schema:
        options["execution_options"] = {"schema_translate_map": {None: schema}}
    engine = create_async_engine(url, **options)
    if sqlite:
        _sqlite_pragmas(engine, busy_timeout_ms)
    return engine


async def upgrade(engine: AsyncEngine, revision: str = "head", *, schema: str | None = None) -> str | None:
    """Apply the migrations up to ``revision``; adopt a pre-Alembic database first. Returns the revision
    the database is at afterwards."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            if schema:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        return await conn.run_sync(_upgrade, revision, schema)


async def downgrade(engine: AsyncEngine, revision: str, *, schema: str | None = None) -> str | None:
    """Undo migrations down to ``revision`` (``base``: no tables). Returns the revision afterwards."""
    async with engine.begin() as conn:
        return await conn.run_sync(_downgrade, revision, schema)


async def current(engine: AsyncEngine, *, schema: str | None = None) -> str | None:
    """The revision the database is at (None: no migration applied yet)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current, schema)


def head() -> str | None:
    """The newest migration this voicebot ships."""
    return ScriptDirectory.from_config(_config(None, None)).get_current_head()


async def upgrade_url(url: str, revision: str = "head") -> str | None:
    """``upgrade`` on the database at ``url`` (``voicebot db upgrade``)."""
    engine = connect(url)
    try:
        return await upgrade(engine, revision)
    finally:
        await engine.dispose()


async def current_url(url: str) -> str | None:
    """``current`` of the database at ``url`` (``voicebot db current``); None for a SQLite file that does not
    exist (looking does not create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).exists():
        return None
    engine = connect(url)
    try:
        return await current(engine)
    finally:
        await engine.dispose()


def _config(conn: Connection | None, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    config.attributes["schema"] = schema
    return config


def _current(conn: Connection, schema: str | None) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_revision()


def _upgrade(conn: Connection, revision: str, schema: str | None) -> str | None:
    config = _config(conn, schema)
    if _current(conn, schema) is None and inspect(conn).has_table("calls", schema=schema):
        _adopt(conn, config, schema)
    before = _current(conn, schema)
    command.upgrade(config, revision)
    after = _current(conn, schema)
    if after != before:
        log.info("call record schema migrated", before=before, after=after)
    return after


def _downgrade(conn: Connection, revision: str, schema: str | None) -> str | None:
    command.downgrade(_config(conn, schema), revision)
    return _current(conn, schema)


def _adopt(conn: Connection, config: Config, schema: str | None) -> None:
    """A database made by ``create_all`` before Alembic: check its version, stamp it, keep its rows."""
    table = f'"{schema}".schema_version' if schema else "schema_version"
    version = conn.scalar(text(f"SELECT max(version) FROM {table}")) \
        if inspect(conn).has_table("schema_version", schema=schema) else None
    if version != 1:
        raise RuntimeError(f"call record tables without a migration history and schema_version {version}: "
                           "voicebot cannot tell what they hold; migrate or move them by hand")
    command.stamp(config, PRE_ALEMBIC_REVISION)
    log.info("call record database created before migrations adopted", revision=PRE_ALEMBIC_REVISION)


class StoreFileError(OSError):
    """A file of the SQLite database cannot be written: a clear error instead of SQLite's crash (a wal-index
    file it cannot write is memory-mapped, and the process dies of SIGBUS on the first write)."""


def check_sqlite_files(url: str | URL) -> None:
    """Raise :class:`StoreFileError` naming the file when the SQLite database at ``url``, its ``-wal`` or its
    ``-shm`` (WAL index), or their directory, cannot be written. Cheap (a few ``stat`` calls)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreFileError(f"the call record database's directory {path.parent} is not writable")
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and not os.access(file, os.R_OK | os.W_OK):
            raise StoreFileError(f"the call record database file {file} is not writable: fix its owner or "
                                 "permissions (records spool meanwhile)")


def _sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @sa_event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={int(busy_timeout_ms)}", "foreign_keys=ON",
                       "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
