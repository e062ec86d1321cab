import json
import wave

import numpy as np
import pytest

from voicebot.speech.vad import FRAME_S, Endpointer, FrameChunker, WebRtcVad
from voicebot.types import AudioFrame

RATE = 8000
N = int(RATE * FRAME_S)


def frames_of(samples: np.ndarray, t0: float = 100.0) -> list[AudioFrame]:
    """20 ms frames stamped with their end time, as if arriving in real time from ``t0``."""
    pcm = np.clip(samples, -32768, 32767).astype("<i2")
    return [AudioFrame(pcm[i:i + N].tobytes(), RATE, t0 + (i + N) / RATE)
            for i in range(0, len(pcm) - N + 1, N)]


def run(frames, vad=None, **kw):
    vad = vad or WebRtcVad(2)
    ep = Endpointer(**kw)
    starts, last_silence = [], 0.0
    for f in frames:
        step = ep.step(f, vad.is_speech(f.pcm, RATE))
        if step.started:
            starts.append((ep.speech_start, len(step.started)))
        last_silence = step.silence_s
    return ep, starts, last_silence


def tone(seconds: float, freq=440.0, amp=8000.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return amp * np.sin(2 * np.pi * freq * t)


def test_silence_and_faint_hiss_are_not_speech():
    vad = WebRtcVad(2)
    rng = np.random.default_rng(0)
    assert not vad.is_speech(bytes(2 * N), RATE)
    hiss = rng.normal(0, 30, N).astype("<i2").tobytes()  # about -60 dBFS
    assert not vad.is_speech(hiss, RATE)
    _, starts, _ = run(frames_of(rng.normal(0, 30, RATE * 2)))
    assert starts == []


def test_short_bursts_do_not_start_a_turn():
    rng = np.random.default_rng(1)
    gap = np.zeros(int(RATE * 0.4))
    burst = rng.normal(0, 6000, int(RATE * 0.06))  # 60 ms clicks/noise bursts, below min_speech_s
    signal = np.concatenate([gap, burst, gap, tone(0.06), gap, burst, gap])
    _, starts, _ = run(frames_of(signal), min_speech_s=0.12)
    assert starts == []


def test_endpointer_start_preroll_and_silence_on_scripted_frames():
    pattern = [False] * 20 + [True] * 10 + [False] * 30
    frames = frames_of(np.zeros(N * len(pattern)))

    class Scripted:
        def __init__(self):
            self.i = -1

        def is_speech(self, pcm, rate):
            self.i += 1
            return pattern[self.i]

    ep, starts, last_silence = run(frames, vad=Scripted(), min_speech_s=0.12, preroll_s=0.2)
    assert len(starts) == 1
    start, sent = starts[0]
    assert start == pytest.approx(frames[20].timestamp - FRAME_S)  # start of the first voiced frame
    assert sent == 10 + 6  # 200 ms pre-roll + the 6 onset frames
    assert ep.speech_end == pytest.approx(frames[29].timestamp)
    assert ep.voiced_s == pytest.approx(10 * FRAME_S)
    assert last_silence == pytest.approx(30 * FRAME_S)


def test_frame_chunker_recuts_odd_chunks_with_end_timestamps():
    ch = FrameChunker(RATE)
    out = ch.split(AudioFrame(bytes(2 * 400), RATE, 10.0))  # 50 ms: two frames + 10 ms kept
    assert [len(f.pcm) for f in out] == [2 * N, 2 * N]
    assert out[1].timestamp == pytest.approx(10.0 - 0.01)
    assert out[0].timestamp == pytest.approx(10.0 - 0.03)
    out = ch.split(AudioFrame(bytes(2 * 80), RATE, 10.01))  # +10 ms completes the third frame
    assert len(out) == 1 and out[0].timestamp == pytest.approx(10.01)


def fsdd(shared_dir, clip_id):
    root = shared_dir / "data" / "asr" / "fsdd_digits_dev"
    rows = {r["id"]: r for r in map(json.loads, (root / "manifest.jsonl").read_text().splitlines())}
    with wave.open(str(root / rows[clip_id]["audio"])) as w:
        assert w.getframerate() == RATE
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)


@pytest.mark.parametrize("clip_id", ["3_theo_7", "7_jackson_5", "0_george_5"])
def test_real_digit_padded_with_silence_makes_one_turn(shared_dir, clip_id):
    speech = fsdd(shared_dir, clip_id)
    lead, tail = 0.6, 1.0
    signal = np.concatenate([np.zeros(int(RATE * lead)), speech, np.zeros(int(RATE * tail))])
    frames = frames_of(signal, t0=0.0)
    ep, starts, last_silence = run(frames)
    clip_s = len(speech) / RATE
    assert len(starts) == 1
    assert lead - 0.05 <= starts[0][0] <= lead + clip_s / 2
    assert lead + clip_s / 2 <= ep.speech_end <= lead + clip_s + 0.1
    assert last_silence >= tail - 0.2



def test_speech_ends_where_the_words_end_not_after_webrtcvads_hangover(shared_dir):
    """A real word then a faint tail (breath, line noise at -48 dBFS): webrtcvad alone keeps saying
    "speech" into the tail; the gate relative to the recent peak ends speech with the word."""
    rng = np.random.default_rng(2)
    word = fsdd(shared_dir, "0_george_5")  # peaks at -16 dBFS
    signal = np.concatenate([np.zeros(int(RATE * 0.4)), word, rng.normal(0, 130, int(RATE * 0.3)),
                             np.zeros(int(RATE * 0.6))])
    frames = frames_of(signal, t0=0.0)
    word_end = 0.4 + len(word) / RATE
    ungated, _, _ = run(frames, vad=WebRtcVad(2, below_peak_db=200.0))
    gated, starts, _ = run(frames)
    assert len(starts) == 1
    assert gated.speech_end <= word_end + 0.02
    assert ungated.speech_end >= gated.speech_end + 0.06  # what the gate saves on every end of turn



def test_a_soft_word_after_a_loud_one_is_still_speech(shared_dir):
    loud, soft = fsdd(shared_dir, "0_george_5"), fsdd(shared_dir, "3_theo_7")  # peaks -16 and -34 dBFS
    gap = np.zeros(int(RATE * 0.2))
    signal = np.concatenate([np.zeros(int(RATE * 0.4)), loud, gap, soft, np.zeros(int(RATE * 0.5))])
    ep, starts, _ = run(frames_of(signal, t0=0.0))
    soft_start = 0.4 + (len(loud) + len(gap)) / RATE
    assert len(starts) == 1 and ep.speech_end >= soft_start + len(soft) / RATE / 2


def test_a_caller_who_sent_nothing_before_speaking_still_gets_the_preroll_as_silence():
    """Asterisk sends no frames in silence: the first frames are already speech. The recogniser still hears
    preroll_s before the onset (whisper drops short words without a lead-in), made of digital silence."""
    frames = frames_of(tone(0.3), t0=50.0)
    ep = Endpointer(min_speech_s=0.12, preroll_s=0.2)
    steps = [ep.step(f, True) for f in frames]
    started = next(s.started for s in steps if s.started)
    assert len(started) == 10 + 6
    assert all(not any(f.pcm) for f in started[:10]) and all(any(f.pcm) for f in started[10:])
    stamps = [f.timestamp for f in started]
    assert stamps == sorted(stamps) and started[9].timestamp == pytest.approx(frames[0].timestamp - FRAME_S)
    assert ep.speech_start == pytest.approx(frames[0].timestamp - FRAME_S)  # the silence is not speech
