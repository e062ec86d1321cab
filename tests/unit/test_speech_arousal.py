"""Acoustic arousal: features of synthetic voiced audio and the caller's own baseline (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from voicebot.speech.arousal import VoiceBaseline, arousal, frame_pitch, voice_features
from voicebot.types import VoiceFeatures

RATE = 8000


def voice(pitch_hz: float, level: float, seconds: float = 1.0, rate: int = RATE) -> bytes:
    """A buzzy vowel (harmonics of ``pitch_hz``) at ``level`` of full scale, with a silent gap."""
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * pitch_hz * k * t) / k for k in range(1, 6))
    wave = level * wave / np.abs(wave).max()
    gap = np.zeros(int(0.3 * rate))
    return (np.concatenate([wave, gap]) * 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("pitch", [90.0, 140.0, 220.0, 310.0])
def test_pitch_of_a_voiced_frame(pitch: float) -> None:
    samples = np.frombuffer(voice(pitch, 0.3, 0.04), dtype="<i2").astype(float)[:320] / 32768
    assert frame_pitch(samples, RATE) == pytest.approx(pitch, rel=0.05)


def test_noise_and_silence_have_no_pitch() -> None:
    noise = np.random.default_rng(0).normal(0, 0.1, 320)
    assert frame_pitch(noise, RATE) is None
    assert frame_pitch(np.zeros(320), RATE) is None


def test_features_of_an_utterance_ignore_its_pauses() -> None:
    quiet, loud = voice_features(voice(120, 0.05), RATE, words=3), voice_features(voice(120, 0.5), RATE, words=3)
    assert quiet is not None and loud is not None
    assert loud.energy_db - quiet.energy_db == pytest.approx(20, abs=0.5)
    assert quiet.pitch_st == pytest.approx(loud.pitch_st, abs=0.2)
    assert quiet.rate_wps == pytest.approx(3.0, rel=0.1)  # the 0.3 s pause is not speech
    assert voice_features(voice(120, 0.05), RATE).rate_wps is None
    assert voice_features(b"\x00\x00" * 100, RATE) is None


def test_arousal_is_relative_to_the_caller_s_own_voice() -> None:
    calm = [voice_features(voice(p, a), RATE, words=3) for p, a in ((110, 0.08), (115, 0.1), (108, 0.09))]
    baseline = VoiceBaseline()
    assert arousal(baseline, calm[0]) is None  # no baseline yet
    for features in calm:
        baseline = baseline.update(features)
    usual = voice_features(voice(112, 0.09), RATE, words=3)
    shouted = voice_features(voice(170, 0.6), RATE, words=5)
    assert abs(arousal(baseline, usual)) < 0.5
    assert arousal(baseline, shouted) > 2.0
    # the same shout from a caller who always speaks that way is nothing special
    loud_baseline = VoiceBaseline()
    for p, a in ((165, 0.55), (172, 0.6), (168, 0.65)):
        loud_baseline = loud_baseline.update(voice_features(voice(p, a), RATE, words=5))
    assert abs(arousal(loud_baseline, shouted)) < 0.5


def test_a_feature_missing_from_the_turn_is_left_out() -> None:
    baseline = VoiceBaseline()
    for level in (0.1, 0.12):
        baseline = baseline.update(VoiceFeatures(20 * np.log10(level), None, None))
    assert baseline.pitch_st.count == 0 and baseline.energy_db.count == 2
    assert arousal(baseline, VoiceFeatures(20 * np.log10(0.5), 30.0, 4.0)) == pytest.approx(4.0)
