"""`bench calls` pieces that need no server: stage statistics, marks, /proc sampling, start-up errors."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from voicebot.caller.bench import ProcSampler, read_turn_marks, stage_stats
from voicebot.caller.launcher import ServeError, serving


def test_stage_stats_per_stage_percentiles() -> None:
    marks = [
        {"speech_start": 0, "speech_end": 1000, "asr_final": 1300, "nlu_done": 1320, "dialog_done": 1325,
         "tts_first_audio": 1400, "first_frame_sent": 1410},
        {"speech_end": 500, "asr_final": 1000, "nlu_done": 1040, "dialog_done": 1041,
         "tts_first_audio": 1141, "first_frame_sent": 1161},
        {"speech_end": 0, "asr_final": 400},  # a turn that stopped after ASR (e.g. the caller hung up)
    ]
    stats = stage_stats(marks)
    assert stats["asr"] == {"n": 3, "p50_ms": 400.0, "p95_ms": 490.0}
    assert stats["nlu"] == {"n": 2, "p50_ms": 30.0, "p95_ms": 39.0}
    assert stats["player"]["n"] == 2 and stats["player"]["p50_ms"] == 15.0
    assert stats["server_total"]["p50_ms"] == 535.5  # (410 + 661) / 2
    assert stats["server_total"]["p95_ms"] == pytest.approx(648.45, abs=0.06)
    assert stage_stats([])["asr"] == {"n": 0, "p50_ms": None, "p95_ms": None}


async def test_read_turn_marks_filters_by_call(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE turns (id TEXT, call_id TEXT, marks JSON)")
        conn.executemany("INSERT INTO turns VALUES (?, ?, ?)", [
            ("1", "a", json.dumps({"speech_end": 0, "asr_final": 350})),
            ("2", "b", json.dumps({"speech_end": 0})),
            ("3", "a", json.dumps({})),
        ])
    marks = await read_turn_marks(f"sqlite+aiosqlite:///{db}", ["a"])
    assert marks == [{"speech_end": 0, "asr_final": 350}]


def test_proc_sampler_reads_this_process() -> None:
    sampler = ProcSampler(os.getpid())
    before = sampler.cpu_seconds()
    sum(i * i for i in range(2_000_000))
    assert sampler.cpu_seconds() > before
    assert 10 * 2**20 < sampler.rss_bytes() < 64 * 2**30


async def test_server_that_dies_at_start_up_is_a_clear_error(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('no flows here'); sys.exit(3)"]
    with pytest.raises(ServeError, match=r"exited with 3 before it was ready:\nno flows here"):
        async with serving(tmp_path, command=command, ready_timeout=20):
            pass
