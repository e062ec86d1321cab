"""Tickets carry the number to call back (``tickets.contact``, E.164 when it parses; empty for none): free text is
masked, so a number written into a description was lost to the person who must call.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=_schema()) as table:
        table.add_column(sa.Column("contact", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=_schema()) as table:
        table.drop_column("contact")


def _schema() -> str | None:
    """The PostgreSQL schema the tables live in (ALTER TABLE is not translated like CREATE TABLE is)."""
    return context.config.attributes.get("schema")
