"""Agent presence at rest: each agent's current state (table ``agent_presence``, one row per agent), written at
every change by the desk that made it (``telephony/presence.py``) and read back at start-up, so a restart restores
each agent's state and Asterisk's queue membership is made to agree with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import AgentPresenceRow


@dataclass(frozen=True, slots=True)
class SavedPresence:
    agent: str
    state: str  # telephony.presence.Presence's value
    reason: str
    call_id: str | None
    queue: str | None
    changed_at: datetime


class SqlPresenceStore:
    """The ``agent_presence`` table (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def save(self, presence: SavedPresence) -> None:
        """Replace the agent's row (one statement: workers saving at once never collide)."""
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        values = {"user_name": presence.agent, "state": presence.state, "reason": presence.reason,
                  "call_id": presence.call_id, "queue": presence.queue, "changed_at": presence.changed_at}
        statement = insert(AgentPresenceRow).values(values)
        statement = statement.on_conflict_do_update(index_elements=["user_name"],
                                                    set_={k: v for k, v in values.items() if k != "user_name"})
        async with self._sessions.begin() as session:
            await session.execute(statement)

    async def load(self) -> list[SavedPresence]:
        async with self._sessions() as session:
            rows = await session.scalars(select(AgentPresenceRow).order_by(AgentPresenceRow.user_name))
            return [SavedPresence(r.user_name, r.state, r.reason, r.call_id, r.queue, r.changed_at) for r in rows]
