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

FRAME_S = 0.04  # pitch needs two periods of a low voice (70 Hz)
PITCH_RANGE_HZ = (70.0, 400.0)
VOICING = 0.5  # normalised autocorrelation peak of a voiced frame
SPEECH_RANGE_DB = 25.0  # frames this far under the loudest one are pauses or noise
MIN_TURNS = 2  # turns heard before a baseline means anything
# feature -> (weight in the arousal, smallest spread assumed: one caller's calm turns vary a little)
WEIGHTS = {"energy_db": (0.5, 3.0), "pitch_st": (0.3, 1.5), "rate_wps": (0.2, 0.5)}


@dataclass(frozen=True, slots=True)
class VoiceFeatures:
    energy_db: float  # RMS of the voiced frames, dB full scale
    pitch_st: float | None  # median pitch, semitones above 55 Hz; None when no frame is voiced
    rate_wps: float | None  # words per second of speech; None when the words are not known


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
    pitches = [p for frame in speech if (p := frame_pitch(frame, sample_rate)) is not None]
    pitch = float(12 * np.log2(np.median(pitches) / 55.0)) if pitches else None
    seconds = len(speech) * FRAME_S
    rate = words / seconds if words is not None and words > 0 else None
    return VoiceFeatures(energy, pitch, rate)


def frame_pitch(frame: np.ndarray, sample_rate: int) -> float | None:
    """The frame's fundamental frequency by normalised autocorrelation, None when it is not voiced."""
    frame = frame - frame.mean()
    energy = float(np.dot(frame, frame))
    if energy <= 1e-9:
        return None
    low, high = int(sample_rate / PITCH_RANGE_HZ[1]), int(sample_rate / PITCH_RANGE_HZ[0])
    high = min(high, len(frame) - 1)
    if low >= high:
        return None
    corr = np.correlate(frame, frame, mode="full")[len(frame) - 1:]
    lags = np.arange(low, high + 1)
    normalised = corr[lags] / (energy * (len(frame) - lags) / len(frame))
    best = int(np.argmax(normalised))
    return sample_rate / float(lags[best]) if normalised[best] >= VOICING else None


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
