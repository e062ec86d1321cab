"""QA console: reviewers' corrections, score cards, full-text search over transcripts.

``qa_corrections`` keeps every correction of a turn (what was said, the intent meant; who, when): the newest
per turn counts. ``qa_scores`` holds one filled score card per call and form. Full-text search: on SQLite an
FTS5 table ``turns_fts`` (the caller's and the bot's words of each turn) kept up to date by triggers on
``turns``; on PostgreSQL a stored generated column ``turns.search_words``, the ``tsvector`` of the same words
('simple' configuration: no stemming, any language), with a GIN index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WORDS = "{0}caller_text || ' ' || {0}bot_text"  # what a search reads of a turn
SQLITE_FTS = [
    ("CREATE VIRTUAL TABLE turns_fts USING fts5(turn_id UNINDEXED, call_id UNINDEXED, words, "
     "tokenize = 'unicode61 remove_diacritics 2')"),
    ("CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN INSERT INTO turns_fts (turn_id, call_id, words) "
     f"VALUES (new.id, new.call_id, {WORDS.format('new.')}); END"),
    ("CREATE TRIGGER turns_fts_update AFTER UPDATE OF caller_text, bot_text ON turns BEGIN "
     "DELETE FROM turns_fts WHERE turn_id = old.id; INSERT INTO turns_fts (turn_id, call_id, words) "
     f"VALUES (new.id, new.call_id, {WORDS.format('new.')}); END"),
    "CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN DELETE FROM turns_fts WHERE turn_id = old.id; END",
    f"INSERT INTO turns_fts (turn_id, call_id, words) SELECT id, call_id, {WORDS.format('')} FROM turns",
]
PG_WORDS = f"to_tsvector('simple'::regconfig, {WORDS.format('')})"


def upgrade() -> None:
    op.create_table(
        "qa_corrections",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("turn_index", sa.Integer(), nullable=False),
        sa.Column("caller_text", sa.Text(), nullable=True),
        sa.Column("intent", sa.String(), nullable=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_qa_corrections_call_turn", "qa_corrections", ["call_id", "turn_index", "at"])
    op.create_table(
        "qa_scores",
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("form", sa.String(64), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_qa_scores_scored_at", "qa_scores", ["scored_at"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        # stored, so a search's recheck reads it instead of computing each turn's tsvector again
        schema = context.config.attributes.get("schema")  # ALTER TABLE is not schema-translated as CREATE is
        op.add_column("turns", sa.Column("search_words", postgresql.TSVECTOR(), sa.Computed(PG_WORDS, persisted=True)),
                      schema=schema)
        op.create_index("ix_turns_search_words", "turns", ["search_words"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("turns_fts_insert", "turns_fts_update", "turns_fts_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS turns_fts")
    else:
        schema = context.config.attributes.get("schema")
        op.drop_index("ix_turns_search_words", table_name="turns", schema=schema)
        op.drop_column("turns", "search_words", schema=schema)
    op.drop_table("qa_scores")
    op.drop_table("qa_corrections")
