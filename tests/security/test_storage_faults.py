"""Storage failures are survived or reported, never silent: an unwritable SQLite file, a database that is
down for many retries, and a shutdown where neither the database nor the spool takes the records."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from voicebot.store.queries import SqlCallQueries
from voicebot.store.repo import SqlCallStore
from voicebot.types import now

DOWN = "postgresql+asyncpg://postgres@127.0.0.1:1/test"  # nothing listens on port 1: the database is down


async def _calls(store: SqlCallStore, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for call_id in ids:
        await store.call_started(call_id, "+15550001", "banking", now())
        await store.call_ended(call_id, "completed", now(), None)
    return ids


async def test_an_outage_spools_into_one_file_however_many_retries(tmp_path: Path) -> None:
    store = await SqlCallStore.open(DOWN, tmp_path / "spool", retry_s=0.01)
    try:
        for _ in range(8):  # eight batches, each retried against the dead database
            await _calls(store, 2)
            await store.flush()
            await asyncio.sleep(0.02)
        files = sorted(p.name for p in (tmp_path / "spool").iterdir())
        assert set(files) <= {"replay.jsonl", "pending.jsonl"}, files
        health = await store.health()
        assert (health.status, health.spooled) == ("degraded", 32)
    finally:
        await store.close()


async def test_healthz_figures_return_to_ok_once_replayed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'voicebot.db'}"
    down = await SqlCallStore.open(DOWN, tmp_path / "spool", retry_s=0.01)
    ids = await _calls(down, 3)
    await down.close()
    store = await SqlCallStore.open(url, tmp_path / "spool")  # the same spool, a database that works
    try:
        await store.flush()
        assert (await store.health()).status == "ok"
        assert all([await SqlCallQueries(store.engine).get_call(i) for i in ids])
    finally:
        await store.close()


async def test_an_unwritable_sqlite_file_spools_with_a_clear_error_instead_of_crashing(tmp_path: Path) -> None:
    db = tmp_path / "voicebot.db"
    store = await SqlCallStore.open(f"sqlite+aiosqlite:///{db}", tmp_path / "spool", retry_s=0.01)
    try:
        await _calls(store, 1)
        await store.flush()
        shm = db.with_name("voicebot.db-shm")
        assert shm.exists()
        if subprocess.run(["chattr", "+i", str(shm)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not permitted here (needs CAP_LINUX_IMMUTABLE): cannot make a file "
                        "unwritable for root")
        try:
            with capture_logs() as logs:
                ids = await _calls(store, 2)
                await store.flush()
            refused = [line for line in logs if line["event"].startswith("call records not written")]
            assert refused and str(shm) in refused[0]["error"] and "not writable" in refused[0]["error"]
            assert (await store.health()).status == "degraded"
        finally:
            subprocess.run(["chattr", "-i", str(shm)], check=True)
        await store.flush()  # writable again: the spool is replayed
        assert (await store.health()).status == "ok"
        assert all([await SqlCallQueries(store.engine).get_call(i) for i in ids])
    finally:
        await store.close()


async def test_records_neither_database_nor_spool_took_are_kept_and_named_at_shutdown(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    pending = spool / "pending.jsonl"
    pending.touch()
    if subprocess.run(["chattr", "+i", str(pending)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not permitted here (needs CAP_LINUX_IMMUTABLE): cannot make a file "
                    "unwritable for root")
    try:
        store = await SqlCallStore.open(DOWN, spool, retry_s=0.01)
        ids = await _calls(store, 2)
        with capture_logs() as logs:
            await store.close()
    finally:
        subprocess.run(["chattr", "-i", str(pending)], check=True)
    kept = [line for line in logs if line["event"].startswith("call records the database and the spool refused")]
    assert len(kept) == 1 and kept[0]["log_level"] == "critical"
    assert sorted(kept[0]["calls"]) == sorted(ids) and kept[0]["records"] == 4
    records = [json.loads(line) for line in Path(kept[0]["file"]).read_text().splitlines()]
    assert sorted({r["call_id"] for r in records}) == sorted(ids)
