"""Acoustic arousal of a caller's utterance against the caller's own baseline (pure functions, no model).

A raised voice is louder, higher and often faster *for that caller*: absolute levels say little over the
telephone (handsets, lines and voices differ far more than one caller's calm and angry turns). So each
utterance gives ``VoiceFeatures`` (energy of the voiced frames in dBFS, median pitch in semitones, words per
voiced second), a call keeps a ``VoiceBaseline`` (running mean and spread per feature, updated after each
turn), and ``arousal`` is a weighted mean of the turn's z-scores against it: about 0 for the caller's usual
voice, 2 or more when shouting. It becomes ``CallerSignals.arousal``, which ``nlu/emotion.py`` weighs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from voicebot.types import VoiceFeatures

FRAME_S = 0.04  # pitch needs two periods of a low voice (70 Hz)
PITCH_RANGE_HZ = (70.0, 400.0)
VOICING = 0.5  # normalised autocorrelation peak of a voiced frame
SPEECH_RANGE_DB = 25.0  # frames this far under the loudest one are pauses or noise
MIN_TURNS = 2  # turns heard before a baseline means anything
# feature -> (weight in the arousal, smallest spread assumed: one caller's calm turns vary a little)
WEIGHTS = {"energy_db": (0.5, 3.0), "pitch_st": (0.3, 1.5), "rate_wps": (0.2, 0.5)}


@dataclass(frozen=True, slots=True)
class RunningStat:
    """Welford's running mean and variance."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> RunningStat:
        count = self.count + 1
        delta = value - self.mean
        mean = self.mean + delta / count
        return RunningStat(count, mean, self.m2 + delta * (value - mean))

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0


@dataclass(frozen=True, slots=True)
class VoiceBaseline:
    """One caller's usual voice so far (immutable: ``update`` returns the next one)."""

    energy_db: RunningStat = RunningStat()
    pitch_st: RunningStat = RunningStat()
    rate_wps: RunningStat = RunningStat()

    def update(self, features: VoiceFeatures) -> VoiceBaseline:
        changes = {name: getattr(self, name).add(value) for name in WEIGHTS
                   if (value := getattr(features, name)) is not None}
        return replace(self, **changes)


def voice_features(pcm: bytes, sample_rate: int, words: int | None = None) -> VoiceFeatures | None:
    """Features of one utterance (mono int16 PCM); None when it holds no speech-level frame."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    size = int(FRAME_S * sample_rate)
    if len(samples) < size:
        return None
    frames = samples[:len(samples) // size * size].reshape(-1, size)
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    speech = frames[level >= max(level.max() - SPEECH_RANGE_DB, -60.0)]
    if not len(speech):
        return None
    energy = float(10 * np.log10(np.mean(speech ** 2) + 1e-12))
    pitches = frame_pitches(speech, sample_rate)
    pitches = pitches[~np.isnan(pitches)]
    pitch = float(12 * np.log2(np.median(pitches) / 55.0)) if len(pitches) else None
    seconds = len(speech) * FRAME_S
    rate = words / seconds if words is not None and words > 0 else None
    return VoiceFeatures(energy, pitch, rate)


def frame_pitches(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """Each frame's fundamental frequency by normalised autocorrelation (all frames at once, by FFT);
    NaN where a frame is not voiced."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    size = frames.shape[1]
    low, high = int(sample_rate / PITCH_RANGE_HZ[1]), min(int(sample_rate / PITCH_RANGE_HZ[0]), size - 1)
    result = np.full(len(frames), np.nan)
    if low >= high or not len(frames):
        return result
    spectrum = np.fft.rfft(frames, n=2 * size, axis=1)
    corr = np.fft.irfft(spectrum * np.conj(spectrum), axis=1)[:, :size]
    lags = np.arange(low, high + 1)
    energy = corr[:, 0:1]
    normalised = corr[:, lags] / np.maximum(energy * (size - lags) / size, 1e-12)
    best = normalised.argmax(axis=1)
    voiced = (normalised[np.arange(len(frames)), best] >= VOICING) & (energy[:, 0] > 1e-9)
    result[voiced] = sample_rate / lags[best[voiced]]
    return result


def frame_pitch(frame: np.ndarray, sample_rate: int) -> float | None:
    """One frame's fundamental frequency, None when it is not voiced."""
    pitch = frame_pitches(frame[None, :], sample_rate)[0]
    return None if np.isnan(pitch) else float(pitch)


def arousal(baseline: VoiceBaseline, features: VoiceFeatures) -> float | None:
    """How far this turn's voice is above the caller's baseline (weighted z-scores, clipped to ±4);
    None until the baseline has ``MIN_TURNS`` turns."""
    total, weight_sum = 0.0, 0.0
    for name, (weight, floor) in WEIGHTS.items():
        stat: RunningStat = getattr(baseline, name)
        value = getattr(features, name)
        if value is None or stat.count < MIN_TURNS:
            continue
        total += weight * (value - stat.mean) / max(stat.std, floor)
        weight_sum += weight
    if baseline.energy_db.count < MIN_TURNS or weight_sum == 0:
        return None
    return max(-4.0, min(4.0, total / weight_sum))
