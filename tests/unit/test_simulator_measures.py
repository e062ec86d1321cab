"""The simulator's pure parts: percentiles, voiced gaps, recording placement, audio preparation."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest

from voicebot.audio.audiosocket import HEADER
from voicebot.caller.script import CallerScript, PlayWav, SayText, ScriptError
from voicebot.caller.simulator import (
    AudioRenderer,
    CallResult,
    GapReport,
    PreparedUtterance,
    TurnResult,
    _place,
    find_voiced_gaps,
    percentile,
    prepare_script,
    read_wav,
    summarize,
)


def tone(seconds: float, rate: int, amplitude: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * math.pi * 440 * t)).astype("<i2").tobytes()


@pytest.mark.parametrize("q", [0, 5, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = [0.31, 0.12, 0.9, 0.45, 0.45, 2.0, 0.05]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_edges() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0


def paced(n: int, start: float = 0.0) -> list[float]:
    return [start + 0.02 * k for k in range(n)]


def test_steady_stream_has_no_gaps() -> None:
    arrivals = paced(100)
    report = find_voiced_gaps(arrivals, [True] * 100)
    assert report == GapReport(utterances=1)


def test_hole_inside_an_utterance_is_a_gap_and_an_underrun() -> None:
    arrivals = paced(20) + paced(20, start=0.38 + 0.1)  # frames 20.. arrive 100 ms after the last
    report = find_voiced_gaps(arrivals, [True] * 40)
    assert report.utterances == 1 and report.gaps == 1
    assert report.max_gap_s == pytest.approx(0.1)
    # a 60 ms buffer absorbs 60 ms: 100 - 20 (the frame itself) - 60 = 20 ms short
    assert report.underruns == 1 and report.max_underrun_s == pytest.approx(0.02)


def test_gap_of_exactly_60_ms_is_not_counted() -> None:
    arrivals = paced(10) + paced(10, start=0.18 + 0.06)
    assert find_voiced_gaps(arrivals, [True] * 20).gaps == 0


def test_silence_and_pauses_between_utterances_are_not_gaps() -> None:
    arrivals = paced(50) + paced(50, start=1.0 + 0.8)  # a second prompt 0.8 s later, nothing between
    voiced = [False] * 10 + [True] * 30 + [False] * 10 + [True] * 40 + [False] * 10
    report = find_voiced_gaps(arrivals, voiced)
    assert report.utterances == 2 and report.gaps == 0 and report.underruns == 0


def test_unvoiced_frames_inside_an_utterance_still_count_as_arrivals() -> None:
    arrivals = paced(30)
    voiced = [True] * 10 + [False] * 10 + [True] * 10  # a 200 ms pause between words, still streamed
    assert find_voiced_gaps(arrivals, voiced) == GapReport(utterances=1)


def test_jitter_that_starves_the_buffer_without_a_big_hole() -> None:
    # every frame 45 ms apart: no hole over 60 ms, but audio arrives slower than it plays
    arrivals = [0.045 * k for k in range(20)]
    report = find_voiced_gaps(arrivals, [True] * 20)
    assert report.gaps == 0
    assert report.underruns > 0 and report.max_underrun_s == pytest.approx(0.025)


def test_burst_ahead_of_time_never_underruns() -> None:
    arrivals = [0.0] * 50 + paced(50, start=0.02)
    assert find_voiced_gaps(arrivals, [True] * 100).underruns == 0


def test_place_inserts_silence_only_where_frames_were_missing() -> None:
    frame = b"\x01\x00" * 160
    chunks = [(0.0, frame), (0.021, frame), (0.039, frame), (0.2, frame)]
    pcm = _place(chunks, 0.0)
    samples = np.frombuffer(pcm, dtype="<i2")
    # three frames back to back, silence up to 200 ms, then the last frame
    assert samples.size == 1600 + 160
    assert samples[:480].min() == 1 and samples[480:1600].max() == 0 and samples[1600:].min() == 1


def test_prepared_utterance_frames_and_voiced_bounds() -> None:
    rate = 8000
    pcm = bytes(320 * 3) + tone(0.5, rate) + bytes(320 * 5)
    utterance = PreparedUtterance.build("x", pcm, rate, -45.0)
    assert len(utterance.messages) == 3 + 25 + 5
    assert utterance.first_voiced == 3 and utterance.last_voiced == 27
    kind, length = HEADER.unpack_from(utterance.messages[0])
    assert (kind, length) == (0x10, 320)
    wide = PreparedUtterance.build("x", tone(0.05, 16000), 16000, -45.0)  # 2.5 frames: padded
    assert [HEADER.unpack_from(m) for m in wide.messages] == [(0x12, 640)] * 3
    with pytest.raises(ScriptError, match="no audio above"):
        PreparedUtterance.build("silent", bytes(3200), rate, -45.0)


class CountingTts:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def synthesize_pcm(self, text: str, sample_rate: int) -> bytes:
        self.calls.append((text, sample_rate))
        return tone(0.3, sample_rate)


def test_renderer_caches_text_per_rate_and_converts_wavs(tmp_path: Path) -> None:
    tts = CountingTts()
    renderer = AudioRenderer(tts)
    first = renderer.render(SayText("hello"), 8000)
    assert renderer.render(SayText("hello"), 8000) is first
    renderer.render(SayText("hello"), 16000)
    assert tts.calls == [("hello", 8000), ("hello", 16000)]

    stereo = tmp_path / "stereo44k.wav"
    samples = np.frombuffer(tone(0.5, 44100), dtype="<i2")
    with wave.open(str(stereo), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(np.column_stack([samples, samples]).tobytes())
    pcm, rate = read_wav(stereo)
    assert rate == 44100 and len(pcm) == samples.size * 2
    assert len(renderer.render(PlayWav(stereo), 8000)) == pytest.approx(0.5 * 8000 * 2, abs=8)


def test_prepare_script_renders_only_utterances() -> None:
    from voicebot.caller.script import BargeIn, HangUp, WaitForBot

    script = CallerScript((WaitForBot(), SayText("one"), BargeIn(SayText("two")), HangUp()))
    prepared = prepare_script(script, 8000, AudioRenderer(CountingTts()))
    assert sorted(prepared.utterances) == [1, 2]
    assert prepared.utterances[2].label == "two"
    with pytest.raises(ScriptError, match="no audio kind for 11025"):
        prepare_script(script, 11025, AudioRenderer(CountingTts()))


def result(latencies: list[float | None], errors: tuple[str, ...] = (), overlapped: bool = False,
           gaps: GapReport = GapReport()) -> CallResult:
    turns = tuple(TurnResult(i + 1, "say", "x", 1.0, 2.0, None if v is None else 2.0 + v, v, overlapped)
                  for i, v in enumerate(latencies))
    return CallResult("id", "", turns, b"", None, "caller", "", errors, 5.0, 250, 50, gaps, 0.001, 3)


def test_summary_percentiles_gaps_and_errors() -> None:
    calls = [result([0.3, 0.5]), result([0.4, None], errors=("boom",), gaps=GapReport(1, 2, 0.08, 1, 0.01)),
             result([0.05], overlapped=True)]
    summary = summarize(calls)
    assert summary["calls"] == 3 and summary["ok"] == 2 and summary["failed"] == 1
    assert summary["measured_turns"] == 3 and summary["unanswered_turns"] == 1
    assert summary["overlapped_turns"] == 1
    assert summary["latency_ms"] == {"p50": 400.0, "p95": 490.0, "max": 500.0, "mean": 400.0}
    assert summary["voiced_gaps"] == 2 and summary["max_gap_ms"] == 80.0 and summary["underruns"] == 1
    assert summary["errors"] == ["id: boom"] and summary["hangups"] == {"caller": 3}


def test_gaps_overlapping_a_simulator_stall_are_marked() -> None:
    arrivals = paced(10) + paced(10, start=0.18 + 0.1) + paced(10, start=0.46 + 0.1)
    report = find_voiced_gaps(arrivals, [True] * 30, stalls=[(0.2, 0.27)])
    assert report.gaps == 2 and report.gaps_in_stalls == 1


async def test_frame_clock_ticks_subscribers_until_the_last_leaves() -> None:
    import asyncio

    from voicebot.caller.simulator import FrameClock

    clock = FrameClock()
    ticks: list[float] = []
    other: list[float] = []
    clock.add(ticks.append)
    clock.add(other.append)
    await asyncio.sleep(0.1)
    clock.remove(ticks.append)
    seen = len(ticks)
    await asyncio.sleep(0.06)
    assert seen > 0 and len(ticks) == seen and len(other) > seen
    assert all(lag >= 0 for lag in ticks)
    clock.remove(other.append)
    await clock.stop()
