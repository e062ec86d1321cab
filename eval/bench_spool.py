"""Spool replay speed: how long after a database outage the records written meanwhile are in PostgreSQL.

Run with ``python eval/bench_spool.py [--calls N] [--url postgresql+asyncpg://…] [--json]``. A call store whose
database is down (nothing listens on port 1) spools ``N`` calls' records (a start, 6 turns, 4 events and an end
each: 12 records a call); then a store on the real database replays the spool at start-up, timed from open to
flushed. ``open_s`` is the same start-up with an empty spool (the schema check): the replay's own time is the
difference. The same spool is then replayed a second time (as after a crash between the commit and the spool's
deletion): nothing may be written twice, and that replay's time is the cost of the idempotence check. Each run
uses a schema of its own, dropped afterwards. Wall-clock figures: read them on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from voicebot.logs import configure_logging
from voicebot.store.repo import SqlCallStore
from voicebot.types import Turn, now

DOWN = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
TURNS, EVENTS = 6, 4


def _turn(index: int) -> Turn:
    turn = Turn(index=index, caller_text=f"I want to check my balance {index}", intent="check_balance",
                intent_confidence=0.9, bot_text="Your balance is $1,250.50.", state="done")
    turn.mark("speech_end", 100.0)
    turn.mark("first_frame_sent", 100.4)
    return turn


async def _spool(directory: Path, calls: int) -> int:
    store = await SqlCallStore.open(DOWN, directory, retry_s=3600)
    for _ in range(calls):
        call_id = str(uuid.uuid4())
        await store.call_started(call_id, "+15550001", "banking", now())
        for index in range(TURNS):
            await store.turn_completed(call_id, _turn(index))
        for digit in range(EVENTS):
            await store.event(call_id, "dtmf", {"digit": str(digit)})
        await store.call_ended(call_id, "completed", now(), None)
    await store.close()
    return calls * (TURNS + EVENTS + 2)


async def _replay(url: str, spool: Path, schema: str) -> float:
    started = time.perf_counter()
    store = await SqlCallStore.open(url, spool, schema=schema)
    await store.flush()
    seconds = time.perf_counter() - started
    health = await store.health()
    await store.close()
    if health.status != "ok":
        raise SystemExit(f"the replay did not finish: {health}")
    return seconds


async def _rows(dsn: str, schema: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {table: await conn.fetchval(f'SELECT count(*) FROM "{schema}".{table}')
                for table in ("calls", "turns", "events")}
    finally:
        await conn.close()


async def run(url: str, calls: int) -> dict[str, Any]:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    schema = f"voicebot_bench_{uuid.uuid4().hex[:10]}"
    work = Path(tempfile.mkdtemp(prefix="voicebot-bench-spool-"))
    try:
        records = await _spool(work / "spool", calls)
        shutil.copytree(work / "spool", work / "again")
        await _replay(url, work / "empty", schema)  # the schema first: its migrations are not the replay's time
        opened = await _replay(url, work / "empty", schema)
        first = await _replay(url, work / "spool", schema)
        rows_first = await _rows(dsn, schema)
        second = await _replay(url, work / "again", schema)
        rows_second = await _rows(dsn, schema)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
        shutil.rmtree(work, ignore_errors=True)
    expected = {"calls": calls, "turns": calls * TURNS, "events": calls * EVENTS}
    return {"calls": calls, "records": records, "open_s": round(opened, 2), "replay_s": round(first, 2),
            "records_per_s": round(records / max(first - opened, 1e-3)), "replay_again_s": round(second, 2),
            "rows": rows_second, "exactly_once": rows_first == rows_second == expected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("ERROR", stderr=True)  # the outage's warnings are the point, not news; stdout is the answer
    result = asyncio.run(run(args.url, args.calls))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['records']} records of {result['calls']} calls replayed in {result['replay_s']} s from start-up "
          f"(start-up alone {result['open_s']} s: {result['records_per_s']} records/s); replayed again in "
          f"{result['replay_again_s']} s; "
          f"rows {result['rows']}; exactly once: {result['exactly_once']}")


if __name__ == "__main__":
    main()
