"""Caller voices in audio-mode tests: option parsing, one setup per test, renderer selection, reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicebot.caller.script import PlayWav, SayText
from voicebot.caller.simulator import AudioRenderer
from voicebot.caller.voices import (
    FAMILIES,
    CallerRenderer,
    CallerSetup,
    Channel,
    caller_setups,
    parse_channel,
    parse_voices,
    renderer_for,
)
from voicebot.designer.audio_tests import AudioRun, AudioTestResult, audio_json, format_audio, rotate, run_cli
from voicebot.designer.conversation_tests import ConversationResult, ConversationTest

ROOT = Path(__file__).resolve().parents[2]


def test_voice_lists_expand_families_and_keep_order() -> None:
    assert parse_voices("piper") == ("piper",)
    assert parse_voices("flite") == FAMILIES["flite"] == ("flite-slt", "flite-rms", "flite-awb", "flite-kal")
    assert parse_voices("festival-kal, piper,festival") == (
        "festival-kal", "piper", "festival-slt", "festival-ked")
    with pytest.raises(ValueError, match="unknown voice 'espeak'"):
        parse_voices("flite,espeak")


def test_every_voice_over_every_channel() -> None:
    setups = caller_setups("flite-slt,festival-ked", "ulaw,gsm+babble10")
    assert [(s.voice, s.channel.name) for s in setups] == [
        ("flite-slt", "ulaw"), ("festival-ked", "ulaw"),
        ("flite-slt", "gsm+babble10"), ("festival-ked", "gsm+babble10")]
    assert [s.family for s in setups] == ["flite", "festival"] * 2
    assert caller_setups() == (CallerSetup(),)  # the default: Piper over a clean line
    assert CallerSetup().channel == parse_channel("clean") and CallerSetup().label == "piper over clean"
    with pytest.raises(ValueError, match="unknown channel"):
        caller_setups("flite", "ulaw,opus")


def test_tests_take_the_setups_in_turn() -> None:
    tests = [ConversationTest(name=f"t{i}", bundle="banking") for i in range(5)]
    setups = caller_setups("flite-slt,flite-rms", "ulaw")
    assert [s.voice for s in rotate(tests, setups)] == ["flite-slt", "flite-rms"] * 2 + ["flite-slt"]


def test_piper_over_a_clean_line_keeps_the_simulators_own_renderer(tmp_path: Path) -> None:
    assert type(renderer_for(CallerSetup(), tmp_path)) is AudioRenderer
    flite = renderer_for(caller_setups("flite-awb", "gsm")[0], tmp_path)
    assert isinstance(flite, CallerRenderer) and flite.cache_dir == tmp_path
    assert isinstance(renderer_for(caller_setups("piper", "ulaw")[0]), CallerRenderer)


class _Tones:
    """A fake Piper: 0.5 s of a 100 Hz hum plus a 1 kHz tone at any rate."""

    def synthesize_pcm(self, text: str, sample_rate: int) -> bytes:
        t = np.arange(sample_rate // 2) / sample_rate
        wave = 8000 * np.sin(2 * np.pi * 100 * t) + 8000 * np.sin(2 * np.pi * 1000 * t)
        return wave.astype("<i2").tobytes()


def _level(pcm: np.ndarray, hz: float, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(spectrum[int(round(hz * len(pcm) / rate))])


def test_piper_lines_go_through_the_channel() -> None:
    line = Channel(codec="none", band_limit=True, line_noise_dbfs=None)  # 300-3400 Hz, no codec, no noise
    renderer = CallerRenderer(CallerSetup("piper", line), tts=_Tones())
    pcm = np.frombuffer(renderer.render(SayText("hello"), 8000), dtype="<i2")
    assert len(pcm) == 4000
    clean = np.frombuffer(_Tones().synthesize_pcm("hello", 8000), dtype="<i2")
    # the hum below the telephone band is gone, the 1 kHz tone is not
    assert _level(pcm, 100, 8000) < 0.1 * _level(clean, 100, 8000)
    assert _level(pcm, 1000, 8000) > 0.7 * _level(clean, 1000, 8000)
    assert len(renderer.render(SayText("hello"), 16000)) == 16000 // 2 * 2  # 0.5 s resampled to 16 kHz


def test_wav_steps_play_as_recorded(tmp_path: Path) -> None:
    from scipy.io import wavfile

    wav = tmp_path / "a.wav"
    samples = (np.arange(800) % 50 * 100).astype(np.int16)
    wavfile.write(wav, 8000, samples)
    renderer = CallerRenderer(caller_setups("flite-slt", "gsm+babble10")[0], tmp_path)
    assert renderer.render(PlayWav(wav), 8000) == samples.tobytes()


def test_reports_say_who_called_over_what_line() -> None:
    test = ConversationTest(name="balance", bundle="banking", file="banking.test.yaml", line=7)
    setups = caller_setups("flite-slt,festival-kal", "gsm+babble10")
    run = AudioRun([
        AudioTestResult(ConversationResult(test, k == 0, [] if k == 0 else ["turn 2: intent"], [], 1.0), test,
                        call_id=f"c{k}", caller=setup)
        for k, setup in enumerate(setups)  # the same test under two setups
    ])
    data = audio_json(run)
    assert [(t["voice"], t["family"], t["channel"], t["call_id"], t["passed"]) for t in data["tests"]] == [
        ("flite-slt", "flite", "gsm+babble10", "c0", True),
        ("festival-kal", "festival", "gsm+babble10", "c1", False)]
    text = format_audio(run)
    assert "PASS  banking: balance  (banking.test.yaml:7)  [flite-slt over gsm+babble10]" in text
    assert "FAIL  banking: balance  (banking.test.yaml:7)  [festival-kal over gsm+babble10]" in text


def test_an_unknown_voice_or_channel_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(ROOT / "dialogs", "banking", False, False, voices="espeak") == 2
    assert "unknown voice 'espeak'" in capsys.readouterr().err
    assert run_cli(ROOT / "dialogs", "banking", False, False, voices="flite", channels="opus") == 2
    assert "unknown channel 'opus'" in capsys.readouterr().err
