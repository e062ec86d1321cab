"""Retention of call recordings on a SQLite file and on PostgreSQL: the purge deletes the files past their
retention and marks their rows (a dry run only lists them), the service's scheduled job does it by itself, and
``voicebot recordings purge [--dry-run]`` does it on demand; a playback is written to the audit log; what a
stopped process left unfinished is finished when the service starts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from databases import DATABASES, migrated_engine
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from voicebot.audio.recording import RecordedFile, raw_paths
from voicebot.call.recording import Recordings, purge, record_of
from voicebot.cli import app as cli
from voicebot.config import RecordingSettings
from voicebot.store import database
from voicebot.store.audit import SqlPiiVault
from voicebot.store.recordings import SqlRecordingStore

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(request.param, tmp_path) as migrated:
        yield migrated


async def recorded(store: SqlRecordingStore, folder: Path, days_ago: float, retain_days: int,
                   file: bool = True) -> tuple[str, Path]:
    call_id = str(uuid.uuid4())
    path = folder / f"{call_id}.wav"
    if file:
        path.write_bytes(b"RIFF....WAVE")
    written = RecordedFile(call_id, path, "wav", 8000, 1.0, 12, 0)
    await store.add(record_of(call_id, "banking", written, retain_days, NOW - timedelta(days=days_ago)))
    return call_id, path


async def test_the_purge_deletes_what_is_past_retention_and_only_that(engine: AsyncEngine, tmp_path: Path) -> None:
    store = SqlRecordingStore(engine)
    old, old_path = await recorded(store, tmp_path, days_ago=31, retain_days=30)
    gone, _ = await recorded(store, tmp_path, days_ago=100, retain_days=90, file=False)  # deleted by hand
    kept, kept_path = await recorded(store, tmp_path, days_ago=29, retain_days=30)
    long_kept, long_path = await recorded(store, tmp_path, days_ago=31, retain_days=365)  # another flow's

    listed = await purge(store, NOW, dry_run=True)
    assert sorted(r.call_id for r in listed.expired) == sorted([old, gone]) and listed.missing == 1
    assert old_path.exists() and (await store.get(old)).deleted_at is None  # a dry run deletes nothing

    done = await purge(store, NOW)
    assert sorted(r.call_id for r in done.expired) == sorted([old, gone])
    assert not old_path.exists() and kept_path.exists() and long_path.exists()
    assert (await store.get(old)).deleted_at == NOW and (await store.get(gone)).deleted_at == NOW
    assert (await store.get(kept)).deleted_at is None and (await store.get(long_kept)).deleted_at is None
    assert (await purge(store, NOW)).expired == []  # nothing twice
    later = await purge(store, NOW + timedelta(days=2))
    assert [r.call_id for r in later.expired] == [kept] and not kept_path.exists()


async def test_the_service_job_purges_by_itself(tmp_path: Path) -> None:
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    recordings = Recordings(RecordingSettings(dir=tmp_path, purge_interval_s=0.05), engine)
    job = asyncio.create_task(recordings.run_retention())
    try:
        call_id, path = await recorded(recordings.store, tmp_path, days_ago=0, retain_days=1)
        expired = record_of(call_id, "banking", RecordedFile(call_id, path, "wav", 8000, 1.0, 12, 0), 1,
                            datetime.now(UTC) - timedelta(days=1, seconds=1))
        await recordings.store.add(expired)  # now past its retention: the next round deletes it
        for _ in range(100):  # the file is deleted, then the row marked
            if (await recordings.store.get(call_id)).deleted_at is not None:
                break
            await asyncio.sleep(0.05)
        assert (await recordings.store.get(call_id)).deleted_at is not None and not path.exists()
    finally:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # a round cancelled mid-query ends before the engine goes
            await job
        await recordings.close()
        await engine.dispose()


def test_the_command_lists_then_purges(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}"

    async def seed() -> tuple[str, Path]:
        engine = database.connect(url)
        await database.upgrade(engine)
        try:
            store = SqlRecordingStore(engine)
            await recorded(store, tmp_path, days_ago=0, retain_days=30)
            return await recorded(store, tmp_path, days_ago=(datetime.now(UTC) - NOW).days + 40, retain_days=30)
        finally:
            await engine.dispose()

    call_id, path = asyncio.run(seed())
    runner = CliRunner()
    listed = runner.invoke(cli, ["recordings", "purge", "--dry-run", "--url", url])
    assert listed.exit_code == 0 and call_id in listed.stdout and path.exists()
    assert "would delete 1 recording(s)" in listed.stderr
    purged = runner.invoke(cli, ["recordings", "purge", "--url", url])
    assert purged.exit_code == 0 and call_id in purged.stdout and not path.exists()
    assert "deleted 1 recording(s)" in purged.stderr
    assert "deleted 0 recording(s)" in runner.invoke(cli, ["recordings", "purge", "--url", url]).stderr


async def test_a_playback_is_in_the_audit_log(engine: AsyncEngine) -> None:
    store, call_id = SqlRecordingStore(engine), str(uuid.uuid4())
    await store.audit_playback("quinn", "qa", call_id)
    (entry,) = await SqlPiiVault(engine, None).audit(call_id=call_id)
    assert (entry.actor, entry.role, entry.action, entry.call_id) == ("quinn", "qa", "play_recording", call_id)


async def test_the_service_job_finishes_what_a_stopped_process_left(tmp_path: Path) -> None:
    engine = database.connect(f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}")
    await database.upgrade(engine)
    call_id = str(uuid.uuid4())
    for raw in raw_paths(tmp_path / f"{call_id}.wav", 8000):
        raw.write_bytes(b"\x10\x00" * 8000)  # one second per channel
        os.utime(raw, (time.time() - 3600,) * 2)
    recordings = Recordings(RecordingSettings(dir=tmp_path, retain_days=10), engine)
    job = asyncio.create_task(recordings.run_retention())
    try:
        for _ in range(100):
            if (row := await recordings.store.get(call_id)) is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row.duration_s == 1.0 and row.flow == "" and Path(row.path).is_file()
        assert (row.expires_at - row.created_at).days == 10
    finally:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # a round cancelled mid-query ends before the engine goes
            await job
        await recordings.close()
        await engine.dispose()
