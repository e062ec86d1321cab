"""Reports speed: how long every report of a period takes over a database of N synthetic calls.

    python eval/bench_reports.py --calls 20000 [--url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--json]

The calls are written through the real stores (``SqlCallStore``: calls, two turns each with stage marks, a
survey answer for the served ones; ``SqlReportStore``: the queue events of the handed-off ones), over 30 days,
from a pool of numbers so that some call again within a day. Then each report is built once over the whole
period (``Reports.build``, as the page and ``voicebot report all`` do) and timed, and the page's full set once
more. Without ``--url`` a SQLite file in a temporary directory; with a PostgreSQL URL, a schema of its own that
is dropped afterwards. Figures are wall-clock on whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from voicebot.config import ReportSettings
from voicebot.reports.build import REPORTS, Reports
from voicebot.store.repo import SqlCallStore
from voicebot.store.reports import QueueEvent, SqlReportStore
from voicebot.types import HandoffPacket, Turn

OUTCOMES = (("completed", 0.6), ("handoff", 0.3), ("abandoned", 0.08), ("error", 0.02))
INTENTS = ("check_balance", "lost_card", "transfer_status", "agent")
EMOTIONS = ("neutral", "neutral", "neutral", "positive", "frustrated", "angry")
REASONS = ("caller_request", "no_match", "out_of_scope", "frustration", "no_input")


async def seed(store: SqlCallStore, calls: int, seed_value: int = 7) -> None:
    rng = random.Random(seed_value)
    end = datetime.now(UTC)
    reports = SqlReportStore(store.engine)
    numbers = [f"+1555{n:07d}" for n in range(max(10, calls // 3))]
    events: list[QueueEvent] = []
    for i in range(calls):
        call_id, at = str(uuid.uuid4()), end - timedelta(seconds=rng.uniform(0, 30 * 86400))
        outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        await store.call_started(call_id, rng.choice(numbers), "banking", at.timestamp())
        for index in range(2):
            turn = Turn(index=index, caller_text="words", intent=rng.choice(INTENTS), emotion=rng.choice(EMOTIONS))
            asr = rng.uniform(0.05, 0.4)
            turn.marks.update({"speech_end": 0.0, "asr_final": asr, "nlu_done": asr + 0.01, "dialog_done": asr + 0.02,
                               "tts_first_audio": asr + 0.2, "first_frame_sent": asr + 0.21})
            await store.turn_completed(call_id, turn)
        if outcome == "completed":
            await store.event(call_id, "survey_answered", {"flow": "banking", "question": "satisfaction",
                                                          "score": rng.randint(1, 5), "via": "dtmf"})
        packet = None
        if outcome == "handoff":
            packet = HandoffPacket(call_id, "", "banking", None, 0, rng.choice(REASONS), "", {}, (), (), at.timestamp())
            hold = rng.uniform(0, 90)
            events.append(QueueEvent(f"j{i}", at, "QueueCallerJoin", "banking", str(i)))
            if rng.random() < 0.85:
                agent = f"agent{rng.randint(1, 12)}"
                events.append(QueueEvent(f"c{i}", at + timedelta(seconds=hold), "AgentConnect", "banking", str(i),
                                         agent=agent, hold_s=hold))
                events.append(QueueEvent(f"k{i}", at + timedelta(seconds=hold + 200), "AgentComplete", "banking",
                                         str(i), agent=agent, hold_s=hold, talk_s=rng.uniform(60, 400)))
            else:
                events.append(QueueEvent(f"a{i}", at + timedelta(seconds=hold), "QueueCallerAbandon", "banking",
                                         str(i), hold_s=hold))
        await store.call_ended(call_id, outcome, (at + timedelta(seconds=rng.uniform(20, 240))).timestamp(), packet)
        if i % 1000 == 999:
            await store.flush()
    await store.flush()
    for start in range(0, len(events), 1000):
        await reports.add_queue_events(events[start:start + 1000])


async def measure(url: str | None, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        schema = f"bench_reports_{uuid.uuid4().hex[:8]}" if url else None
        target = url or f"sqlite+aiosqlite:///{Path(folder) / 'voicebot.db'}"
        store = await SqlCallStore.open(target, Path(folder) / "spool", schema=schema)
        try:
            started = time.perf_counter()
            await seed(store, calls)
            seeded_s = time.perf_counter() - started
            reports = Reports(SqlReportStore(store.engine), ReportSettings())
            period = reports.period(datetime.now(UTC) - timedelta(days=31), datetime.now(UTC) + timedelta(minutes=1))
            each: dict[str, float] = {}
            for name in REPORTS:
                started = time.perf_counter()
                await reports.build([name], period)
                each[name] = round((time.perf_counter() - started) * 1000, 1)
            started = time.perf_counter()
            built = await reports.build(list(REPORTS), period)
            page_ms = round((time.perf_counter() - started) * 1000, 1)
            strict = built[0].figures["strict_rate"]
        finally:
            if schema:
                async with store.engine.begin() as conn:
                    from sqlalchemy import text

                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await store.close()
    return {"database": "postgresql" if url else "sqlite", "calls": calls, "seed_s": round(seeded_s, 1),
            "report_ms": each, "all_reports_ms": page_ms, "strict_containment": strict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.url, args.calls))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['database']}: {result['calls']} calls (seeded in {result['seed_s']} s)")
    for name, ms in result["report_ms"].items():
        print(f"  {name:12s} {ms:8.1f} ms")
    print(f"  all reports  {result['all_reports_ms']:8.1f} ms (the page)")


if __name__ == "__main__":
    main()
