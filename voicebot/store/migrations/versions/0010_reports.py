"""Reports: queue and agent events from Asterisk, survey answers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this concern."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this concern."""
