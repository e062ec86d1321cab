"""QA console speed: the call list's full-text search and filters over a database of N synthetic calls.

    python eval/bench_qa.py --calls 20000 [--url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--json]

The calls are written through the real store (``SqlCallStore``: calls of two flows over 30 days, three turns
each whose words are drawn from a small call-centre vocabulary, one call in 500 saying the rare word "zebra"),
so the search index is filled by the same triggers (SQLite) or kept by the same GIN index (PostgreSQL) as in
service. Then each query is run as the list page runs it (``SqlQaStore.search``: the first page of 25 and the
total), five times, and the median is printed. Without ``--url`` a SQLite file in a temporary directory; with a
PostgreSQL URL, a schema of its own that is dropped afterwards. Figures are wall-clock on whatever else the
machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from voicebot.store.qa import CallFilter, SqlQaStore
from voicebot.store.repo import SqlCallStore
from voicebot.types import Turn

WORDS = (
    "balance", "card", "stolen", "parcel", "order", "refund", "account", "transfer", "where", "is", "my",
    "the", "a", "please", "help", "agent", "blocked", "lost", "wallet", "delivery", "address", "payment",
    "yesterday", "today", "week", "money", "salary", "pin", "number",
)
QUERIES: dict[str, CallFilter] = {
    "no filter": CallFilter(),
    "rare word (zebra)": CallFilter(words="zebra"),
    "common words (stolen card)": CallFilter(words="stolen card"),
    "words + flow + contained": CallFilter(words="refund", flow="retail", contained=True),
    "intent + emotion + last 7 days": CallFilter(intent="lost_card", emotion="negative",
                                                 since=(datetime.now(UTC) - timedelta(days=7)).date()),
}


async def seed(store: SqlCallStore, calls: int, seed_value: int = 7) -> None:
    rng = random.Random(seed_value)
    end = datetime.now(UTC)
    for i in range(calls):
        call_id, at = str(uuid.uuid4()), end - timedelta(seconds=rng.uniform(0, 30 * 86400))
        await store.call_started(call_id, f"+1555{i:07d}", rng.choice(("banking", "retail")), at.timestamp())
        for index in range(3):
            words = " ".join(rng.choice(WORDS) for _ in range(8)) + (" zebra" if i % 500 == 0 and index == 1 else "")
            await store.turn_completed(call_id, Turn(index=index, caller_text=words,
                                                     intent=rng.choice(("check_balance", "lost_card", "refund")),
                                                     emotion=rng.choice(("neutral", "neutral", "negative")),
                                                     bot_text=" ".join(rng.choice(WORDS) for _ in range(10))))
        await store.call_ended(call_id, rng.choice(("completed", "completed", "handoff")), at.timestamp() + 60, None)
        if i % 500 == 499:
            await store.flush()
    await store.flush()


async def run(calls: int, url: str | None) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-qa-"))
    schema = f"bench_qa_{uuid.uuid4().hex[:8]}" if url else None
    store = await SqlCallStore.open(url or f"sqlite+aiosqlite:///{folder / 'voicebot.db'}", folder / "spool",
                                   schema=schema)
    try:
        started = time.perf_counter()
        await seed(store, calls)
        seeded_s = time.perf_counter() - started
        if url:
            async with store.engine.begin() as conn:
                await conn.execute(text(f'ANALYZE "{schema}".turns'))
        qa = SqlQaStore(store.engine)
        figures = {}
        for name, wanted in QUERIES.items():
            times, total = [], 0
            for _ in range(5):
                began = time.perf_counter()
                total = (await qa.search(wanted, limit=25)).total
                times.append((time.perf_counter() - began) * 1000)
            figures[name] = {"matches": total, "median_ms": round(statistics.median(times), 1)}
        return {"backend": "postgresql" if url else "sqlite", "calls": calls, "turns": 3 * calls,
                "seed_s": round(seeded_s, 1), "queries": figures}
    finally:
        if schema:
            async with store.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.calls, args.url))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['backend']}: {result['calls']} calls, {result['turns']} turns (written in {result['seed_s']} s)")
    for name, figure in result["queries"].items():
        print(f"  {name:34} {figure['matches']:>6} calls  {figure['median_ms']:>7.1f} ms")


if __name__ == "__main__":
    main()
