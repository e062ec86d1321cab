"""The agent desktop: presence that survives a restart (``agent_presence``: each agent's current state), and
callbacks an agent schedules (``callbacks.not_before``) or that are dialled again after a restart cut their dial
short (``callbacks.attempts``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("callbacks", schema=_schema()) as table:
        table.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("callbacks", schema=_schema()) as table:
        table.drop_column("attempts")
        table.drop_column("not_before")
    op.drop_table("agent_presence")


def _schema() -> str | None:
    """The PostgreSQL schema the tables live in (ALTER TABLE is not translated like CREATE TABLE is)."""
    return context.config.attributes.get("schema")
