"""Voice activity: WebRTC VAD with energy gates, 20 ms framing and the endpointer state machine.

The endpointer turns per-frame speech/non-speech into utterance boundaries:

* speech starts once ``min_speech_s`` of voiced frames fall inside a short window (a click or a
  single voiced frame does not start a turn); the ``preroll_s`` of audio before it is kept so the
  recogniser hears the onset of the first word. When less audio came before it (a phone or a Local
  channel that sends no frames in silence), digital silence makes up the rest, placed before the first
  frame: whisper hears nothing in a short word with no lead-in ("three" and "five" decode to nothing);
* while in speech it reports the silence since the end of the last voiced frame, which the
  listener compares with the end-of-turn rules (``speech/turn.py``).

Times are ``AudioFrame.timestamp`` values (arrival time = end of the frame's audio), so simulated and
real calls measure alike.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import webrtcvad

from voicebot.audio.codecs import rms_dbfs
from voicebot.types import SAMPLE_WIDTH, AudioFrame

FRAME_S = 0.02  # webrtcvad accepts 10/20/30 ms; 20 ms is AudioSocket's native frame


class WebRtcVad:
    """``engines.VoiceActivityDetector`` over webrtcvad (8/16/32/48 kHz), one per call.

    Two energy gates on top of webrtcvad:

    * frames quieter than ``min_dbfs`` are non-speech: webrtcvad fires on faint line hiss, and real
      speech on a phone line sits well above -50 dBFS;
    * frames more than ``below_peak_db`` under the loudest frame of the last ``peak_window_s`` are
      non-speech: webrtcvad holds "speech" for 100-200 ms after a word ends (its hangover), which
      would delay every end of turn by as much; speech itself stays within ~30 dB of its vowels.
    """

    def __init__(self, aggressiveness: int = 2, min_dbfs: float = -50.0, below_peak_db: float = 30.0,
                 peak_window_s: float = 1.5) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self.min_dbfs = min_dbfs
        self.below_peak_db = below_peak_db
        self._recent: deque[float] = deque(maxlen=max(1, round(peak_window_s / FRAME_S)))

    def is_speech(self, pcm: bytes, sample_rate: int) -> bool:
        level = rms_dbfs(pcm)
        self._recent.append(level)
        return (level > self.min_dbfs and level >= max(self._recent) - self.below_peak_db
                and self._vad.is_speech(pcm, sample_rate))


class FrameChunker:
    """Re-cuts arbitrary PCM chunks into exact 20 ms frames, stamping each with its end time."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._frame_bytes = int(sample_rate * FRAME_S) * SAMPLE_WIDTH
        self._rest = b""

    def split(self, frame: AudioFrame) -> list[AudioFrame]:
        if not self._rest and len(frame.pcm) == self._frame_bytes:
            return [frame]  # the common case: AudioSocket already sends 20 ms frames
        data = self._rest + frame.pcm
        whole = len(data) - len(data) % self._frame_bytes
        self._rest = data[whole:]
        # the last whole frame ends where the incoming data ends, minus what stays buffered
        end = frame.timestamp - len(self._rest) / (SAMPLE_WIDTH * self.sample_rate)
        count = whole // self._frame_bytes
        return [
            AudioFrame(data[i * self._frame_bytes:(i + 1) * self._frame_bytes], self.sample_rate,
                       end - (count - 1 - i) * FRAME_S)
            for i in range(count)
        ]


@dataclass(frozen=True, slots=True)
class EndpointStep:
    """What one 20 ms frame changed. ``started`` carries the pre-roll + onset frames to send to ASR."""

    voiced: bool
    in_speech: bool
    started: tuple[AudioFrame, ...] = ()
    silence_s: float = 0.0  # since the end of the last voiced frame (0 while voiced)


def _lead_in(count: int, first: AudioFrame) -> tuple[AudioFrame, ...]:
    """``count`` frames of digital silence ending where ``first`` begins (none if ``count`` <= 0)."""
    silence = bytes(len(first.pcm))
    return tuple(AudioFrame(silence, first.sample_rate, first.timestamp - k * first.duration)
                 for k in range(count, 0, -1))


class Endpointer:
    """Per-call speech start / silence tracking over 20 ms frames already classified by a VAD."""

    def __init__(self, min_speech_s: float = 0.12, preroll_s: float = 0.2) -> None:
        self._need = max(1, math.ceil(min_speech_s / FRAME_S - 1e-9))
        self._window = self._need + 2  # tolerate a couple of unvoiced frames inside the onset
        self._preroll = max(0, round(preroll_s / FRAME_S))
        self._history: deque[tuple[AudioFrame, bool]] = deque(maxlen=self._window + self._preroll)
        self.in_speech = False
        self.speech_start = 0.0
        self.speech_end = 0.0
        self.voiced_s = 0.0

    def step(self, frame: AudioFrame, voiced: bool) -> EndpointStep:
        if self.in_speech:
            if voiced:
                self.speech_end = frame.timestamp
                self.voiced_s += frame.duration
                return EndpointStep(True, True)
            return EndpointStep(False, True, silence_s=max(0.0, frame.timestamp - self.speech_end))
        self._history.append((frame, voiced))
        recent = list(self._history)[-self._window:]
        if sum(v for _, v in recent) < self._need or not voiced:
            return EndpointStep(voiced, False)
        history = list(self._history)
        first = next(i for i in range(len(history) - len(recent), len(history)) if history[i][1])
        self.in_speech = True
        self.speech_start = history[first][0].timestamp - history[first][0].duration
        self.speech_end = frame.timestamp
        self.voiced_s = sum(f.duration for f, v in recent if v)
        frames = tuple(f for f, _ in history[max(0, first - self._preroll):])
        self._history.clear()
        return EndpointStep(True, True, started=_lead_in(self._preroll - first, frames[0]) + frames)

    def reset(self) -> None:
        """The turn ended: look for the next speech start."""
        self.in_speech = False
        self.voiced_s = 0.0
        self._history.clear()
