"""PII: the audit log of views of unmasked text, and encrypted originals when configured.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work on this concern."""


def downgrade() -> None:
    """Placeholder: filled in by the work on this concern."""
