"""The agent desktop at rest: each agent's queue membership (interface, queues with a penalty each), what agents
do about a call (dispositions, notes, tickets, callbacks), and a caller's previous calls.

A callback is only recorded here; the routing dials it later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store import database
from voicebot.store.models import AgentRow, CallRow, DeskActionRow, TurnRow, UserRow

ACTION_KINDS = ("disposition", "note", "ticket", "callback")
TYPED = ("text", "note")  # an action's free text, masked (a callback's number is kept: it is dialled)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent's phone (``PJSIP/1001``) and the queues it joins, each with its penalty."""

    name: str
    interface: str
    queues: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class DeskAction:
    call_id: str
    user_name: str
    at: datetime
    kind: str  # one of ACTION_KINDS
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PreviousCall:
    id: str
    started_at: datetime
    flow: str
    outcome: str
    queue: str | None
    reason: str  # the handoff's reason, if it was handed off
    intent: str  # what the caller wanted: the call's first understood intent ("" if none)


def parse_queues(text: str) -> tuple[tuple[str, int], ...]:
    """``"banking,cards:2"`` (commas or spaces) → ``(("banking", 0), ("cards", 2))``; a bad penalty raises."""
    queues = []
    for item in text.replace(",", " ").split():
        name, _, penalty = item.partition(":")
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"a queue name is letters, digits, - and _: {item!r}")
        if penalty and not penalty.isdigit():
            raise ValueError(f"a penalty is a whole number ≥ 0: {item!r}")
        queues.append((name, int(penalty or 0)))
    return tuple(queues)


def format_queues(queues: tuple[tuple[str, int], ...]) -> str:
    return " ".join(f"{name}:{penalty}" for name, penalty in queues)


class SqlDeskStore:
    """Agents, desk actions and previous calls in the call record database."""

    def __init__(self, engine: AsyncEngine, mask: Callable[[str], str] | None = None) -> None:
        """``mask``: the PII masker's (``pii.mask``), applied to desk actions' free text before it is written."""
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._mask = mask or (lambda text: text)

    async def set_agent(self, name: str, interface: str, queues: tuple[tuple[str, int], ...]) -> None:
        """Make ``name`` (a user) a queue member on ``interface``; an empty interface removes it. ``ValueError``
        when another agent has the interface."""
        async with self._sessions.begin() as session:
            taken = await session.scalar(select(AgentRow.user_name).where(AgentRow.interface == interface,
                                                                          AgentRow.user_name != name))
            if interface and taken is not None:
                raise ValueError(f"{interface} is {taken}'s phone")
            await session.execute(delete(AgentRow).where(AgentRow.user_name == name))
            if interface:
                session.add(AgentRow(user_name=name, interface=interface, queues=format_queues(queues)))

    async def agents(self) -> list[AgentRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(AgentRow).order_by(AgentRow.user_name))
            return [AgentRecord(r.user_name, r.interface, parse_queues(r.queues)) for r in rows]

    async def agent(self, name: str) -> AgentRecord | None:
        async with self._sessions() as session:
            row = await session.get(AgentRow, name)
            return AgentRecord(row.user_name, row.interface, parse_queues(row.queues)) if row else None

    async def add_action(self, call_id: str, user_name: str, kind: str, data: dict[str, Any]) -> DeskAction:
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action {kind!r}; actions: {', '.join(ACTION_KINDS)}")
        data = {key: self._mask(value) if key in TYPED and isinstance(value, str) else value
                for key, value in data.items()}
        action = DeskAction(call_id, user_name, datetime.now(UTC), kind, data)
        async with self._sessions.begin() as session:
            session.add(DeskActionRow(id=uuid.uuid4().hex, call_id=call_id, user_name=user_name, at=action.at,
                                      kind=kind, data=data))
        return action

    async def actions(self, call_id: str) -> list[DeskAction]:
        async with self._sessions() as session:
            rows = await session.scalars(select(DeskActionRow).where(DeskActionRow.call_id == call_id)
                                         .order_by(DeskActionRow.at))
            return [DeskAction(r.call_id, r.user_name, r.at, r.kind, r.data) for r in rows]

    async def previous_calls(self, caller_id: str, but: str, limit: int = 5) -> list[PreviousCall]:
        """The caller's latest calls before this one (``but``), newest first, each with its outcome and first
        understood intent; none for an unknown number."""
        if not caller_id:
            return []
        intent = (select(TurnRow.intent).where(TurnRow.call_id == CallRow.id, TurnRow.intent.is_not(None))
                  .order_by(TurnRow.index).limit(1).correlate(CallRow).scalar_subquery())
        async with self._sessions() as session:
            rows = await session.execute(select(CallRow, intent)
                                         .where(CallRow.caller_id == caller_id, CallRow.id != but)
                                         .order_by(CallRow.started_at.desc()).limit(limit))
            return [PreviousCall(r.id, r.started_at, r.flow, r.outcome, r.queue,
                                 str((r.handoff or {}).get("reason", "")), first or "") for r, first in rows]

    async def flow_of(self, call_id: str) -> str:
        """The flow a recorded call ran ("" when it is not recorded)."""
        async with self._sessions() as session:
            return await session.scalar(select(CallRow.flow).where(CallRow.id == call_id)) or ""


async def set_agent_at(url: str, name: str, interface: str, queues: tuple[tuple[str, int], ...]) -> None:
    """``voicebot user add|agent … --interface --queues``: bring the database up to date, then set the agent's
    queue membership (an empty interface removes it). ``ValueError`` for an unknown user or a taken interface."""
    engine = database.connect(url)
    try:
        await database.upgrade(engine)
        async with async_sessionmaker(engine)() as session:
            if await session.get(UserRow, name) is None:
                raise ValueError(f"no user named {name!r}")
        await SqlDeskStore(engine).set_agent(name, interface, queues)
    finally:
        await engine.dispose()
