"""Agents' queue membership (interface and queues with penalties) and what agents do about a call on their
desktop (dispositions, notes, tickets, callbacks).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("interface", sa.String(128), nullable=False, unique=True),
        sa.Column("queues", sa.String(), nullable=False),
    )
    op.create_table(
        "desk_actions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    )
    op.create_index("ix_desk_actions_call_at", "desk_actions", ["call_id", "at"])


def downgrade() -> None:
    op.drop_table("desk_actions")
    op.drop_table("agents")
