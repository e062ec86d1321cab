"""The call record tables as voicebot created them before migrations (``create_all``, schema_version 1).

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    version = op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("applied_at", TIME, nullable=False),
    )
    op.bulk_insert(version, [{"version": 1, "applied_at": datetime.now(UTC)}])
    op.create_table(
        "calls",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("caller_id", sa.String(), nullable=False),
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("handoff", JSON, nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("data", JSON, nullable=False),
    )
    op.create_index("ix_events_call_at", "events", ["call_id", "at"])
    op.create_index("ix_events_kind", "events", ["kind"])
    op.create_table(
        "turns",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("caller_text", sa.Text(), nullable=False),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("input_kind", sa.String(), nullable=False),
        sa.Column("intent", sa.String(), nullable=True),
        sa.Column("intent_confidence", sa.Float(), nullable=True),
        sa.Column("entities", JSON, nullable=False),
        sa.Column("emotion", sa.String(), nullable=True),
        sa.Column("emotion_score", sa.Float(), nullable=True),
        sa.Column("bot_text", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("barged_in", sa.Boolean(), nullable=False),
        sa.Column("marks", JSON, nullable=False),
        sa.Column("response_ms", sa.Float(), nullable=True),
    )
    op.create_index("ix_turns_call_index", "turns", ["call_id", "index"])


def downgrade() -> None:
    op.drop_table("turns")
    op.drop_table("events")
    op.drop_table("calls")
    op.drop_table("schema_version")
