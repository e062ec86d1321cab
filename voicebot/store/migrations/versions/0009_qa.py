"""QA console: score cards, reviewers' corrections, full-text search over transcripts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this concern."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this concern."""
