"""Call recordings (one stereo file per call) and their retention.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this concern."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this concern."""
