"""The call records as the read side hands them out: small frozen dataclasses, and their JSON.

``CallQueries`` (``engines.py``) returns these; the web API, QA and eval read them. ``RECORD_VERSION`` is
the version of this shape (not of the database schema, which Alembic versions): it changes when a field
changes meaning or goes away, so a consumer of the JSON can tell which shape it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One caller turn and the bot's answer, as stored. ``marks``: each stage reached, in ms after the turn's
    first mark; ``response_ms``: speech end to the first frame of the answer."""

    index: int
    recorded_at: datetime
    caller_text: str
    asr_confidence: float | None
    input_kind: str
    intent: str | None
    intent_confidence: float | None
    entities: dict[str, Any]
    emotion: str | None
    emotion_score: float | None
    bot_text: str
    decision: str
    state: str
    barged_in: bool
    marks: dict[str, float]
    response_ms: float | None
    schema_version: int = field(default=RECORD_VERSION, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "recorded_at": _iso(self.recorded_at), "caller_text": self.caller_text,
                "asr_confidence": self.asr_confidence, "input_kind": self.input_kind, "intent": self.intent,
                "intent_confidence": self.intent_confidence, "entities": self.entities,
                "emotion": self.emotion, "emotion_score": self.emotion_score, "bot_text": self.bot_text,
                "decision": self.decision, "state": self.state, "barged_in": self.barged_in, "marks": self.marks,
                "response_ms": self.response_ms}


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something that happened during a call, with its data (JSON)."""

    at: datetime
    kind: str
    data: dict[str, Any]
    schema_version: int = field(default=RECORD_VERSION, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "kind": self.kind, "data": self.data}


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call. ``outcome`` is ``in_progress`` until it ends; ``handoff`` is the agent packet as stored
    (JSON), or None. ``turns`` and ``events`` are filled by ``get_call``; ``list_calls`` leaves them empty
    and says how many turns there are in ``turn_count``."""

    id: str
    caller_id: str
    flow: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    duration_s: float | None
    queue: str | None
    handoff: dict[str, Any] | None
    turn_count: int
    turns: tuple[TurnRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()
    schema_version: int = field(default=RECORD_VERSION, kw_only=True)

    def summary_json(self) -> dict[str, Any]:
        """The call without its turns and events (``GET /api/calls``)."""
        return {"schema_version": self.schema_version, "id": self.id, "caller_id": self.caller_id,
                "flow": self.flow, "started_at": _iso(self.started_at), "ended_at": _iso(self.ended_at),
                "outcome": self.outcome, "duration_s": self.duration_s, "queue": self.queue,
                "handoff": self.handoff, "turn_count": self.turn_count}

    def to_json(self) -> dict[str, Any]:
        """The whole call (``GET /api/calls/{id}``)."""
        summary = self.summary_json()
        del summary["turn_count"]
        return {**summary, "turns": [t.to_json() for t in self.turns],
                "events": [e.to_json() for e in self.events]}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
