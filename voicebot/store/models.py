"""The call record schema (SQLAlchemy 2 typed ORM). The same tables serve SQLite and PostgreSQL.

``calls`` has one row per call, ``turns`` one row per caller turn (with per-stage timing), ``events``
the notable moments of a call (barge-in, DTMF, handoff, faults). QA, reports and compliance build on
these tables; change them only together with a new migration in ``migrations/versions/`` (the tests check
that the migrated database and these classes agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

JsonValue = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC, PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Text columns are unbounded (VARCHAR without length on PostgreSQL): a long value is never a reason to
# reject a record. Only ids have a length.


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonValue, datetime: UtcDateTime}


class CallRow(Base):
    """One call. ``outcome`` is ``in_progress`` until the call ends; ``handoff`` is the agent packet."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the AudioSocket UUID
    caller_id: Mapped[str] = mapped_column(String, default="")
    flow: Mapped[str] = mapped_column(String, default="")
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String, default="in_progress", index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    handoff: Mapped[dict[str, Any] | None]
    queue: Mapped[str | None] = mapped_column(String)

    turns: Mapped[list[TurnRow]] = relationship(back_populates="call", order_by="TurnRow.index",
                                                cascade="all, delete-orphan", passive_deletes=True)
    events: Mapped[list[EventRow]] = relationship(back_populates="call", order_by="EventRow.at",
                                                  cascade="all, delete-orphan", passive_deletes=True)


class TurnRow(Base):
    """One caller turn and the bot's answer.

    ``marks`` holds each stage reached (speech_end, asr_final, nlu_done, dialog_done, tts_first_audio,
    first_frame_sent, ...) in milliseconds after the turn's first mark; ``response_ms`` is the figure
    callers feel: speech_end to first_frame_sent. ``id`` is assigned when the turn is queued, so a replay
    never writes it twice.
    """

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_call_index", "call_id", "index"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    index: Mapped[int]
    recorded_at: Mapped[datetime]
    caller_text: Mapped[str] = mapped_column(Text, default="")
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    input_kind: Mapped[str] = mapped_column(String, default="speech")
    intent: Mapped[str | None] = mapped_column(String)
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    emotion: Mapped[str | None] = mapped_column(String)
    emotion_score: Mapped[float | None] = mapped_column(Float)
    bot_text: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String, default="")
    barged_in: Mapped[bool] = mapped_column(default=False)
    marks: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response_ms: Mapped[float | None] = mapped_column(Float)

    call: Mapped[CallRow] = relationship(back_populates="turns")


class EventRow(Base):
    """Something that happened during a call, with its data."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_call_at", "call_id", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    call: Mapped[CallRow] = relationship(back_populates="events")


class ApiTokenRow(Base):
    """An API token for a machine client (the dialplan, scripts): its SHA-256, never the secret."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String)  # space-separated
    hint: Mapped[str] = mapped_column(String(16))  # the secret's first characters, to recognise it
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class UserRow(Base):
    """A person who logs in to the web app: a role and an argon2 hash of the password (never the password)."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # agent, supervisor, qa, admin
    password_hash: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class WebSessionRow(Base):
    """A person's login: the SHA-256 of the cookie's secret (never the secret), revocable and expiring."""

    __tablename__ = "web_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AgentRow(Base):
    """An agent's phone as Asterisk's queues know it: the interface ``Queue()`` rings and the queues (bot queue
    names, ``queues.conf`` adds ``voicebot-``) with a penalty each, ``banking:0 cards:2``."""

    __tablename__ = "agents"

    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), primary_key=True)
    interface: Mapped[str] = mapped_column(String(128), unique=True)  # e.g. PJSIP/1001
    queues: Mapped[str] = mapped_column(String, default="")  # space-separated queue:penalty


class DeskActionRow(Base):
    """What an agent did about a call on their desktop: a disposition, a note, a ticket or a callback."""

    __tablename__ = "desk_actions"
    __table_args__ = (Index("ix_desk_actions_call_at", "call_id", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))  # no foreign key: the call may not be recorded yet
    user_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))  # disposition, note, ticket, callback
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CallbackRow(Base):
    """A caller's request to be called back instead of waiting, holding their place in ``queue`` by the time
    they first joined it. ``active_number`` is the number while the request is waiting or being dialled
    (NULL afterwards): the unique constraint keeps one live request per number."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_queue_state_joined", "queue", "state", "joined_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    active_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int]
    joined_at: Mapped[datetime]
    requested_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))  # waiting, dialing, connected, failed, cancelled
    dialed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    channel: Mapped[str] = mapped_column(String, default="")
    result: Mapped[str] = mapped_column(String, default="")
    not_before: Mapped[datetime | None]  # an agent's scheduled callback: not dialled before (migration 0012)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # dials begun (0012)


# --- desk: agent presence that survives a restart (telephony/presence.py, store/presence.py, migration 0012) ---


class AgentPresenceRow(Base):
    """An agent's current presence (one row per agent, replaced at every change), restored at start-up."""

    __tablename__ = "agent_presence"

    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # available, on_call, wrap_up, break, offline
    reason: Mapped[str] = mapped_column(String, default="")
    call_id: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime]


# --- QA console (store/qa.py, migration 0009) ---------------------------------------------------------


class QaCorrectionRow(Base):
    """A reviewer's correction of one turn: what the caller really said and the intent they meant (None: that
    part unchanged). Every correction is kept; the newest per turn counts."""

    __tablename__ = "qa_corrections"
    __table_args__ = (Index("ix_qa_corrections_call_turn", "call_id", "turn_index", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    turn_index: Mapped[int]
    caller_text: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String)
    user_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class QaScoreRow(Base):
    """A call's score card of one form: the answers (automatic and the reviewer's), the score (0-100), who
    scored it and when. Scoring again replaces it."""

    __tablename__ = "qa_scores"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    form: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    answers: Mapped[dict[str, Any]]
    comment: Mapped[str] = mapped_column(Text)
    user_name: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(index=True)


# --- reports: queue and agent events (store/reports.py, migration 0010) ---------------------------------


class QueueEventRow(Base):
    """What Asterisk's queues said about a caller (``QueueCallerJoin``, ``QueueCallerAbandon``, ``AgentConnect``,
    ``AgentComplete``, …), for the queue and agent reports. ``id`` is a digest of the AMI event, so every worker
    that hears it writes the same row once. ``queue`` is the bot queue name (the Asterisk prefix removed)."""

    __tablename__ = "queue_events"
    __table_args__ = (Index("ix_queue_events_queue_at", "queue", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    event: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    unique_id: Mapped[str] = mapped_column(String(64), default="")  # the caller's channel in Asterisk
    call_id: Mapped[str | None] = mapped_column(String(64))  # the voicebot call (VOICEBOT_UUID), when known
    agent: Mapped[str | None] = mapped_column(String(64))  # the member's name
    interface: Mapped[str | None] = mapped_column(String(128))
    hold_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    ring_s: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(32), default="")


class AgentStateRow(Base):
    """An agent's state from ``at`` until their next row (``telephony/presence.py``'s states), for wrap-up and
    time-in-state figures."""

    __tablename__ = "agent_states"
    __table_args__ = (Index("ix_agent_states_agent_at", "agent", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String, default="")
    at: Mapped[datetime] = mapped_column(index=True)
    call_id: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))


# --- PII: sealed originals of masked turns, the audit log of their reads (store/audit.py, migration 0008) ---


class PiiOriginalRow(Base):
    """The clear text of a turn whose record is masked, Fernet-encrypted; kept only with ``pii.keep_unmasked``."""

    __tablename__ = "pii_originals"
    __table_args__ = (Index("ix_pii_originals_call_turn", "call_id", "turn_index"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))  # no foreign key: written beside the call's record
    turn_index: Mapped[int]
    sealed: Mapped[str] = mapped_column(Text)  # a Fernet token of the turn's clear fields (JSON)
    created_at: Mapped[datetime]


class PiiAuditRow(Base):
    """One read or export of unmasked text: who (and in which role), what, when."""

    __tablename__ = "pii_audit"
    __table_args__ = (Index("ix_pii_audit_at", "at"), Index("ix_pii_audit_call", "call_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # admin, qa, or the token's scope
    action: Mapped[str] = mapped_column(String(16))  # view, export
    call_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String, default="")  # e.g. the turns read


# ---------------------------------------------------------------- call recordings (call/recording.py, migration 0007)


class RecordingRow(Base):
    """A call's recording file (one per call): where it is, what it holds, until when it is kept. A purged
    recording keeps its row with ``deleted_at`` set (its file is gone)."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_expires_deleted", "expires_at", "deleted_at"),)

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # no foreign key: written beside the call
    flow: Mapped[str] = mapped_column(String, default="")
    path: Mapped[str] = mapped_column(String)
    format: Mapped[str] = mapped_column(String(8))  # wav, opus
    sample_rate: Mapped[int]
    duration_s: Mapped[float] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # 2 GB is ≈ 3 hours at 48 kHz
    dropped_frames: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


# --- tickets (store/tickets.py) ---


class TicketRow(Base):
    """A ticket or work order about a caller's request, opened by a flow, an agent or QA."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status_updated", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)  # no foreign key: may precede the record
    title: Mapped[str] = mapped_column(String)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open, in_progress, waiting, resolved, closed
    priority: Mapped[str] = mapped_column(String(16))  # low, normal, high, urgent
    queue: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16))  # flow, agent, qa, supervisor, admin
    contact: Mapped[str] = mapped_column(String(32), default="", server_default="")  # number to call back (0013)
    created_by: Mapped[str] = mapped_column(String(64))  # a user's name, or the flow's name
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketHistoryRow(Base):
    """One change to a ticket: who, when, which fields from what to what, and a comment."""

    __tablename__ = "ticket_history"
    __table_args__ = (Index("ix_ticket_history_ticket_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # field -> [old, new]
    comment: Mapped[str] = mapped_column(Text, default="")
