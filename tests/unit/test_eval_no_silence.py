"""eval/voices_no_silence.py: the bot's silence after the caller stops, with and without silence frames."""

from pathlib import Path

import pytest
from scripts import imported_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ab():
    with imported_script(ROOT / "eval" / "voices_no_silence.py", "eval_no_silence_under_test") as module:
        yield module


def row(frames: bool, latency: int | None, speaking: bool = False) -> dict:
    return {"round": 0, "silence_frames": frames, "kind": "say", "ok": True, "latency_ms": latency,
            "bot_speaking_at_end": speaking}


def test_summary_counts_unanswered_and_long_silences_per_mode(ab):
    rows = [row(True, 400), row(True, 600), row(True, 2500), row(False, 450), row(False, None),
            row(False, 3000, speaking=True)]
    s = ab.summary(rows)
    assert s["frames"] == {"turns": 3, "unanswered": 0, "p50_ms": 600, "max_ms": 2500, "over_2000_ms": 1}
    # a turn the bot was still talking through is no silence after the caller; an unanswered one is counted
    assert s["no_frames"] == {"turns": 1, "unanswered": 1, "p50_ms": 450, "max_ms": 450, "over_2000_ms": 0}
