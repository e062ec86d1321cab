"""Reports: queue and agent events from Asterisk (``queue_events``) and agents' states (``agent_states``).

Survey answers need no table: they are call events (``survey_answered``) in ``events``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("unique_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("interface", sa.String(128), nullable=True),
        sa.Column("hold_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("ring_s", sa.Float(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
    )
    op.create_index("ix_queue_events_at", "queue_events", ["at"])
    op.create_index("ix_queue_events_queue_at", "queue_events", ["queue", "at"])
    op.create_table(
        "agent_states",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
    )
    op.create_index("ix_agent_states_at", "agent_states", ["at"])
    op.create_index("ix_agent_states_agent_at", "agent_states", ["agent", "at"])


def downgrade() -> None:
    op.drop_table("agent_states")
    op.drop_table("queue_events")
