"""Alembic migrations of the call record schema (run by ``voicebot.store.database``)."""
