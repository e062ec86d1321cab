"""Call recordings at rest: the ``recordings`` table (one row per recorded call: where its file is, what it
holds, until when it is kept; ``deleted_at`` once the retention purge removed the file), and each playback in
the audit log of views of unmasked content (``pii_audit``, migration 0008: a recording is the caller unmasked)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from voicebot.store.models import PiiAuditRow, RecordingRow

MEDIA_TYPES = {"wav": "audio/wav", "opus": "audio/ogg"}  # by format
PLAYBACK = "play_recording"  # the audit log's action for a playback


@dataclass(frozen=True, slots=True)
class RecordingRecord:
    call_id: str
    flow: str
    path: str
    format: str  # wav, opus
    sample_rate: int
    duration_s: float
    size_bytes: int
    dropped_frames: int
    created_at: datetime
    expires_at: datetime
    deleted_at: datetime | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.format, "application/octet-stream")

    def to_json(self) -> dict[str, object]:
        """As the API shows it (no file path)."""
        return {"call_id": self.call_id, "flow": self.flow, "format": self.format, "sample_rate": self.sample_rate,
                "duration_s": round(self.duration_s, 3), "size_bytes": self.size_bytes,
                "dropped_frames": self.dropped_frames, "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None}


def _record(row: RecordingRow) -> RecordingRecord:
    return RecordingRecord(row.call_id, row.flow, row.path, row.format, row.sample_rate, row.duration_s,
                           row.size_bytes, row.dropped_frames, row.created_at, row.expires_at, row.deleted_at)


class SqlRecordingStore:
    """Recording rows in the call record database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add(self, record: RecordingRecord) -> None:
        """Record a finished recording (a second one for the same call replaces the first)."""
        async with self._sessions.begin() as session:
            await session.merge(RecordingRow(
                call_id=record.call_id, flow=record.flow, path=record.path, format=record.format,
                sample_rate=record.sample_rate, duration_s=record.duration_s, size_bytes=record.size_bytes,
                dropped_frames=record.dropped_frames, created_at=record.created_at, expires_at=record.expires_at,
                deleted_at=record.deleted_at))

    async def get(self, call_id: str) -> RecordingRecord | None:
        async with self._sessions() as session:
            row = await session.get(RecordingRow, call_id)
            return _record(row) if row is not None else None

    async def expired(self, now: datetime, limit: int = 1000) -> list[RecordingRecord]:
        """Recordings past their retention whose file is not deleted yet, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(select(RecordingRow).where(RecordingRow.expires_at <= now,
                                                                    RecordingRow.deleted_at.is_(None))
                                         .order_by(RecordingRow.expires_at).limit(limit))
            return [_record(row) for row in rows]

    async def mark_deleted(self, call_ids: list[str], at: datetime) -> None:
        if not call_ids:
            return
        async with self._sessions.begin() as session:
            await session.execute(update(RecordingRow).where(RecordingRow.call_id.in_(call_ids))
                                  .values(deleted_at=at))

    async def audit_playback(self, actor: str, role: str, call_id: str) -> None:
        """A playback of a call's recording in the audit log: who, in which role (or the token's scope), when."""
        async with self._sessions.begin() as session:
            session.add(PiiAuditRow(id=uuid.uuid4().hex, at=datetime.now(UTC), actor=actor[:64], role=role[:16],
                                    action=PLAYBACK, call_id=call_id, detail="recording"))
