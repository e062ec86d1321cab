"""Tickets and work orders with status, assignee and history.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this concern."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this concern."""
