"""Fixtures several integration modules share."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from services import require_service

SHARED_PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def scale_database() -> AsyncIterator[str]:
    """For the scale tests' workers: a database of the test's own on the machine's PostgreSQL (its SQLAlchemy
    URL), dropped afterwards; the machine's Redis, their bus, must answer too."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("Redis", "127.0.0.1", 6379)
    name = f"voicebot_scale_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(SHARED_PG)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
