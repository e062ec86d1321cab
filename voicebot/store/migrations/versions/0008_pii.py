"""PII: encrypted originals of masked turns (kept only with ``pii.keep_unmasked``) and the audit log of every
view or export of them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pii_originals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("turn_index", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_pii_originals_call_turn", "pii_originals", ["call_id", "turn_index"])
    op.create_table(
        "pii_audit",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
    )
    op.create_index("ix_pii_audit_at", "pii_audit", ["at"])
    op.create_index("ix_pii_audit_call", "pii_audit", ["call_id"])


def downgrade() -> None:
    op.drop_table("pii_audit")
    op.drop_table("pii_originals")
