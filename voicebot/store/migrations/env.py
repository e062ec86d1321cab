"""Alembic's entry point. ``voicebot.store.database`` passes the connection (and the PostgreSQL schema, if
any) in ``config.attributes``; there is no ``alembic.ini`` and no offline (SQL script) mode."""

from __future__ import annotations

from alembic import context

from voicebot.store.models import Base

connection = context.config.attributes["connection"]
if connection is None:
    raise RuntimeError("run the call record migrations through voicebot.store.database (voicebot db upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata,
                  version_table_schema=context.config.attributes.get("schema"), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
