"""The caller simulator: plays Asterisk 22's part toward any AudioSocket server (``voicebot call``).

It connects over TCP (``TCP_NODELAY``), sends ``0x01`` with a fresh UUID, then one 20 ms audio frame
every 20 ms on absolute deadlines (``0x10`` 320 bytes at 8 kHz, ``0x12`` 640 bytes at 16 kHz): the
script's speech when the caller talks, digital silence otherwise, as a real RTP leg never stops; or, with
``silence_frames`` off, nothing while the caller is silent, as Asterisk does with Local channels and
phones with silence suppression (AUDIOSOCKET.md §3). ``first_audio_after`` holds every audio frame back
for that long after the UUID (a caller silent at first, e.g. a slin16 channel's late first frame). DTMF
goes out as one ``0x03`` frame per digit when the digit "ends". The caller hangs up by closing TCP
(never ``0x00``). Everything the bot sends is read: ``0x10``-``0x18`` audio (resampled to 8 kHz for
the recording), ``0x00`` (the bot hung up, e.g. after a handoff); any other kind, or zero-length
audio, is an error that makes Asterisk drop the call, so the simulator drops it too. Odd-length audio
is accepted by Asterisk but misaligns the stream: it is counted as an error as well.

Many calls run in one asyncio loop, paced by one shared 20 ms :class:`FrameClock`; each script's audio
is rendered once and pre-cut into ready-to-write messages, so the simulator stays light.

Measures (clock: ``loop.time()``, monotonic; all offsets are seconds from the TCP connect):

* **Voiced frame**: a bot audio frame whose RMS level is at or above ``threshold_dbfs`` (-45 dBFS).
  Keep-alive silence is never voiced.
* **End of caller speech**: the send time of the last caller frame at or above the threshold in the
  utterance (trailing silence in a WAV does not count); for DTMF, the send time of the last digit.
* **Turn latency**: end of caller speech -> arrival of the first voiced bot frame after it. When the
  bot was still talking at that moment (a voiced frame within 100 ms before), the turn is flagged
  ``bot_speaking_at_end`` and left out of the latency statistics.
* **Bot utterance**: a run of voiced frames where successive voiced frames arrive at most
  ``pause`` (0.5 s) apart; it spans from its first to its last voiced frame.
* **Voiced gap**: inside a bot utterance, an interval between two consecutive frame arrivals (voiced
  or not) longer than ``max_gap`` (60 ms). Every such gap is counted; the largest is reported.
* **Underrun**: inside a bot utterance, a 60 ms playout buffer (a typical phone jitter buffer) starts
  playing 60 ms after the first voiced frame arrives and consumes each frame's duration; a frame that
  arrives after its play-out time is an underrun of (arrival - play-out time), after which play-out
  restarts at that arrival. This catches jitter that starves a buffer without any single 60 ms hole.
* **Barge-in stop**: for ``barge_in`` turns, caller speech start -> the last voiced bot frame before
  the bot went quiet for 200 ms.
* **Send lag**: how late the simulator itself sent a frame against its deadline (max, and the count of
  frames more than 20 ms late); if it is large the simulator's host was starved of CPU and the
  figures are suspect. A voiced gap overlapping such a late period (deadline -> the late send) is
  also counted as ``gaps_in_stalls``: the simulator may have read the frames late, not the bot sent
  them late.

The recording places each bot frame at its arrival time and inserts silence where more than one
frame's worth of time passed with no frame; the caller's speech is placed at its send times.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import socket
import sys
import uuid
import wave
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

import numpy as np

from voicebot.audio import audiosocket
from voicebot.audio.audiosocket import AUDIO_RATES, KIND_FOR_RATE, Kind
from voicebot.audio.codecs import StreamResampler, resample
from voicebot.caller.script import (
    DEFAULT_SCRIPT,
    BargeIn,
    CallerScript,
    HangUp,
    Pause,
    PlayWav,
    SayText,
    ScriptError,
    SendDtmf,
    Step,
    Utterance,
    WaitForBot,
)
from voicebot.reports.measures import percentile

FRAME_S = 0.02
RECORD_RATE = 8000
SPEAKING_WINDOW_S = 0.1  # a voiced bot frame this recent means "the bot is talking now"
ONSET_QUIET_S = 0.3  # a voiced frame after this much bot quiet starts a new prompt
BARGE_STOP_QUIET_S = 0.2
CLOSE_TIMEOUT_S = 2.0
WAIT_POLL_S = 0.05  # how often wait_for_bot looks at the bot's audio (it only paces the script)


# --------------------------------------------------------------------------------------------------
# Caller audio: WAV files and text spoken by the project's TTS, rendered once per run
# --------------------------------------------------------------------------------------------------


class TextToSpeech(Protocol):
    def synthesize_pcm(self, text: str, sample_rate: int) -> bytes:
        """Blocking: the whole text as mono int16 PCM at ``sample_rate``."""
        ...


def load_project_tts() -> TextToSpeech:
    """The project's Piper voice, or a clear error telling the user to use WAV files instead."""
    try:
        from voicebot.runtime import InferencePool
        from voicebot.speech.tts_piper import PiperSynthesizer
    except ImportError as exc:
        raise ScriptError(
            f"'say' steps need the project's TTS (voicebot.speech.tts_piper), which is not available "
            f"({exc}); use 'wav' steps with recorded audio instead") from exc
    if not hasattr(PiperSynthesizer, "synthesize_pcm"):
        raise ScriptError("voicebot.speech.tts_piper.PiperSynthesizer has no synthesize_pcm(); "
                          "use 'wav' steps with recorded audio instead")
    return PiperSynthesizer.load(InferencePool(1))


def read_wav(path: Path) -> tuple[bytes, int]:
    """Any PCM or float WAV as mono int16 bytes and its sample rate."""
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
    except (OSError, ValueError) as exc:
        raise ScriptError(f"cannot read WAV {path}: {exc}") from exc
    samples = np.asarray(data)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.dtype.kind == "f":
        samples = np.clip(samples, -1.0, 1.0) * 32767.0
    elif samples.dtype == np.uint8:
        samples = (samples.astype(np.float64) - 128.0) * 256.0
    elif samples.dtype == np.int32:
        samples = samples / 65536.0
    return np.round(samples).astype("<i2").tobytes(), int(rate)


class AudioRenderer:
    """Turns utterances into PCM at the call rate; caches each (text or file, rate) for the run."""

    def __init__(self, tts: TextToSpeech | None = None) -> None:
        self._tts = tts
        self._cache: dict[tuple[str, str, int], bytes] = {}

    def render(self, utterance: Utterance, rate: int) -> bytes:
        if isinstance(utterance, SayText):
            key = ("say", utterance.text, rate)
        else:
            key = ("wav", str(utterance.path), rate)
        if key not in self._cache:
            if isinstance(utterance, SayText):
                if self._tts is None:
                    self._tts = load_project_tts()
                pcm = self._tts.synthesize_pcm(utterance.text, rate)
            else:
                pcm, wav_rate = read_wav(utterance.path)
                pcm = resample(pcm, wav_rate, rate)
            if not pcm:
                raise ScriptError(f"{key[0]} {key[1]!r} rendered to no audio")
            self._cache[key] = pcm
        return self._cache[key]


def _mean_square_threshold(threshold_dbfs: float) -> float:
    return (32768.0 * 10 ** (threshold_dbfs / 20.0)) ** 2


@dataclass(frozen=True, slots=True)
class PreparedUtterance:
    """An utterance cut into ready-to-write 20 ms audio messages (the last one padded with silence)."""

    label: str
    messages: tuple[bytes, ...]
    payloads: tuple[bytes, ...]
    first_voiced: int
    last_voiced: int

    @classmethod
    def build(cls, label: str, pcm: bytes, rate: int, threshold_dbfs: float) -> PreparedUtterance:
        size = int(rate * FRAME_S) * 2
        pcm = pcm + bytes(-len(pcm) % size)
        payloads = tuple(pcm[i:i + size] for i in range(0, len(pcm), size))
        frames = np.frombuffer(pcm, dtype="<i2").astype(np.float64).reshape(len(payloads), -1)
        voiced = np.flatnonzero((frames * frames).mean(axis=1) >= _mean_square_threshold(threshold_dbfs))
        if voiced.size == 0:
            raise ScriptError(f"{label!r}: no audio above {threshold_dbfs} dBFS (is the file silent?)")
        messages = tuple(audiosocket.encode_audio(p, rate) for p in payloads)
        return cls(label, messages, payloads, int(voiced[0]), int(voiced[-1]))


@dataclass(frozen=True, slots=True)
class PreparedScript:
    """A script with every utterance rendered at the call rate; shared by all concurrent calls."""

    script: CallerScript
    rate: int
    utterances: dict[int, PreparedUtterance]  # step index (0-based) -> audio


def prepare_script(script: CallerScript, rate: int = 8000, renderer: AudioRenderer | None = None,
                   threshold_dbfs: float = -45.0) -> PreparedScript:
    """Blocking (file reads, TTS): run it off the event loop, once per run."""
    if rate not in KIND_FOR_RATE:
        raise ScriptError(f"AudioSocket has no audio kind for {rate} Hz")
    renderer = renderer or AudioRenderer()
    utterances: dict[int, PreparedUtterance] = {}
    for i, step in enumerate(script.steps):
        speech = step.speech if isinstance(step, BargeIn) else step
        if isinstance(speech, (SayText, PlayWav)):
            label = speech.text if isinstance(speech, SayText) else speech.path.name
            pcm = renderer.render(speech, rate)
            utterances[i] = PreparedUtterance.build(label, pcm, rate, threshold_dbfs)
    return PreparedScript(script, rate, utterances)


# --------------------------------------------------------------------------------------------------
# Pure measures
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GapReport:
    utterances: int = 0
    gaps: int = 0
    max_gap_s: float = 0.0
    underruns: int = 0
    max_underrun_s: float = 0.0
    gaps_in_stalls: int = 0  # of ``gaps``, those overlapping a stall of the simulator itself


def find_voiced_gaps(arrivals: Sequence[float], voiced: Sequence[bool],
                     durations: Sequence[float] | None = None, max_gap: float = 0.06, pause: float = 0.5,
                     buffer: float = 0.06, stalls: Sequence[tuple[float, float]] = ()) -> GapReport:
    """Gaps and jitter-buffer underruns inside bot utterances (definitions in the module docstring).

    ``arrivals`` are frame arrival times in order, ``voiced`` whether each frame is above the level
    threshold, ``durations`` each frame's audio length (20 ms if omitted). ``stalls`` are (from, to)
    periods when the simulator's own loop ran late: a gap overlapping one may be the simulator's.
    """
    spans: list[tuple[int, int]] = []
    start = last = -1
    for k, is_voiced in enumerate(voiced):
        if not is_voiced:
            continue
        if start < 0 or arrivals[k] - arrivals[last] > pause:
            if start >= 0:
                spans.append((start, last))
            start = k
        last = k
    if start >= 0:
        spans.append((start, last))
    gaps: list[float] = []
    underruns: list[float] = []
    in_stalls = 0
    for a, b in spans:
        for k in range(a + 1, b + 1):
            if arrivals[k] - arrivals[k - 1] > max_gap:
                gaps.append(arrivals[k] - arrivals[k - 1])
                in_stalls += any(lo < arrivals[k] and hi > arrivals[k - 1] for lo, hi in stalls)
        play = arrivals[a] + buffer
        for k in range(a, b + 1):
            if arrivals[k] > play:
                underruns.append(arrivals[k] - play)
                play = arrivals[k]
            play += durations[k] if durations is not None else FRAME_S
    return GapReport(utterances=len(spans), gaps=len(gaps), max_gap_s=max(gaps, default=0.0),
                     underruns=len(underruns), max_underrun_s=max(underruns, default=0.0),
                     gaps_in_stalls=in_stalls)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnResult:
    """One caller input (say / wav / dtmf / barge_in) and how fast the bot answered it."""

    step: int  # 1-based step number in the script
    kind: str
    label: str
    start_s: float  # caller speech (or first digit) start, seconds from connect
    end_s: float  # end of caller speech / last digit
    first_bot_audio_s: float | None
    latency_s: float | None  # end_s -> first voiced bot frame after it
    bot_speaking_at_end: bool = False
    barge_in_stop_s: float | None = None


@dataclass(frozen=True)
class CallResult:
    """Everything one simulated call saw. Audio is mono int16 at 8 kHz."""

    call_id: str
    caller_id: str
    turns: tuple[TurnResult, ...]
    bot_audio: bytes
    caller_audio: bytes | None
    hangup_by: str  # "bot" (0x00 or TCP close), "caller", or "" when the call never started
    hangup_detail: str
    errors: tuple[str, ...]
    duration_s: float
    frames_received: int
    voiced_frames: int
    gaps: GapReport
    max_send_lag_s: float
    steps_done: int
    late_frames: int = 0  # caller frames the simulator sent more than 20 ms after their deadline
    handoff: dict[str, str] | None = None  # the dialplan's lookup after a bot hangup (``web_url`` given)
    bot_rates: tuple[tuple[float, int], ...] = ()  # (seconds from connect, rate) at each change of the bot's kind

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "caller_id": self.caller_id, "ok": self.ok, "errors": list(self.errors),
            "hangup_by": self.hangup_by, "hangup_detail": self.hangup_detail,
            "duration_s": round(self.duration_s, 3), "steps_done": self.steps_done,
            "frames_received": self.frames_received, "voiced_frames": self.voiced_frames,
            "gaps": asdict(self.gaps), "max_send_lag_ms": round(self.max_send_lag_s * 1000, 1),
            "late_frames": self.late_frames, "handoff": self.handoff,
            "bot_rates": [list(change) for change in self.bot_rates],
            "turns": [asdict(t) for t in self.turns],
        }

    def write_wav(self, path: Path | str, stereo: bool = True) -> Path:
        """The bot's audio as 8 kHz WAV; with ``stereo`` the caller is left and the bot right."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        bot = np.frombuffer(self.bot_audio, dtype="<i2")
        if stereo:
            caller = np.frombuffer(self.caller_audio or b"", dtype="<i2")
            n = max(bot.size, caller.size)
            both = np.zeros((n, 2), dtype="<i2")
            both[:caller.size, 0] = caller
            both[:bot.size, 1] = bot
            data, channels = both.tobytes(), 2
        else:
            data, channels = bot.tobytes(), 1
        with wave.open(str(path), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(RECORD_RATE)
            out.writeframes(data)
        return path


class FrameClock:
    """One 20 ms grid on absolute deadlines that paces every call in this loop.

    Asterisk paces its channels from one timing source too; a shared clock also keeps the simulator
    light (one timer wake-up per 20 ms, not one per call). If the loop falls behind, the missed ticks
    run back to back, so every call still sends one frame per 20 ms of wall time on average.
    """

    def __init__(self) -> None:
        self._subscribers: dict[Callable[[float], None], None] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, tick: Callable[[float], None]) -> None:
        """``tick(lag)`` is called every 20 ms from the next tick on; ``lag`` is how late the tick ran."""
        self._subscribers[tick] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def remove(self, tick: Callable[[float], None]) -> None:
        self._subscribers.pop(tick, None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        n = 1
        while self._subscribers:
            deadline = t0 + n * FRAME_S
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = loop.time() - deadline
            for tick in list(self._subscribers):
                tick(lag)
            n += 1


def _place(chunks: Sequence[tuple[float, bytes]], t0: float) -> bytes:
    """Lay chunks (arrival time, 8 kHz PCM) end to end, with silence where a frame time went by empty."""
    out = bytearray()
    cursor = 0
    frame = int(RECORD_RATE * FRAME_S)
    for t, pcm in chunks:
        pos = int((t - t0) * RECORD_RATE)
        if pos - cursor > frame:
            out += bytes(2 * (pos - cursor))
            cursor = pos
        out += pcm
        cursor += len(pcm) // 2
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# One call
# --------------------------------------------------------------------------------------------------


class _CallProtocol(asyncio.Protocol):
    """Reads and logs everything the bot sends; sends the caller's frames on absolute deadlines."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: int, threshold_dbfs: float,
                 record_caller: bool, silence_frames: bool = True) -> None:
        self.loop = loop
        self.threshold_ms = _mean_square_threshold(threshold_dbfs)
        self.record_caller = record_caller
        self.silence = audiosocket.encode_audio(bytes(int(rate * FRAME_S) * 2), rate)
        self.silence_frames = silence_frames
        self.audio_from = math.inf  # loop time of the first audio frame allowed (set when the UUID is sent)
        self.transport: asyncio.Transport | None = None
        self.decoder = audiosocket.Decoder()
        self.closed = asyncio.Event()
        self.errors: list[str] = []
        self.hangup_by = ""
        self.hangup_detail = ""
        self.step = 0
        # bot side, in arrival order
        self.arrivals: list[float] = []
        self.voiced: list[bool] = []
        self.durations: list[float] = []
        self.bot_chunks: list[tuple[float, bytes]] = []
        self.bot_rates: list[tuple[float, int]] = []
        self.voiced_times: list[float] = []
        self.last_onset = -math.inf
        self._resamplers: dict[int, StreamResampler] = {}
        # caller side
        self.caller_chunks: list[tuple[float, bytes]] = []
        self.max_lag = 0.0
        self.late_frames = 0
        self.stalls: list[tuple[float, float]] = []  # (deadline, when the late tick ran)
        self._speech: tuple[PreparedUtterance, int, asyncio.Future[tuple[float, float]]] | None = None
        self._speech_start = self._speech_end = 0.0

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        now = self.loop.time()
        for message in self.decoder.feed(data):
            if self.closed.is_set():
                return
            self._on_message(message, now)

    def eof_received(self) -> bool:
        if self.decoder.pending:
            self.errors.append(f"bot closed TCP mid-message ({self.decoder.pending} bytes left)")
            self.set_hangup("bot", f"closed TCP mid-message during step {self.step}")
        elif not self.hangup_by:
            self.set_hangup("bot", f"closed TCP without 0x00 during step {self.step}")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.hangup_by and not self.errors:
            self.errors.append(f"connection lost: {exc!r}")
        self.closed.set()
        self._finish_speech()

    # -- inbound -----------------------------------------------------------------------------------
    def _on_message(self, message: audiosocket.Message, now: float) -> None:
        kind, payload = message.kind, message.payload
        if kind in AUDIO_RATES:
            if not payload:
                self.fail("bot sent zero-length audio (Asterisk drops the call)")
                return
            if len(payload) % 2:
                self.errors.append(f"bot sent odd-length audio ({len(payload)} bytes): the stream misaligns")
                payload = payload[:-1]
            samples = np.frombuffer(payload, dtype="<i2").astype(np.float32)
            is_voiced = float(np.dot(samples, samples)) / samples.size >= self.threshold_ms
            rate = AUDIO_RATES[kind]
            if not self.bot_rates or self.bot_rates[-1][1] != rate:
                self.bot_rates.append((now, rate))
            if kind != Kind.SLIN:
                resampler = self._resamplers.setdefault(kind, StreamResampler(rate, RECORD_RATE))
                payload = resampler.process(payload)
            self.arrivals.append(now)
            self.voiced.append(is_voiced)
            self.durations.append(samples.size / rate)
            self.bot_chunks.append((now, payload))
            if is_voiced:
                if not self.voiced_times or now - self.voiced_times[-1] > ONSET_QUIET_S:
                    self.last_onset = now
                self.voiced_times.append(now)
        elif kind == Kind.HANGUP:
            self.set_hangup("bot", f"0x00 hangup during step {self.step}")
        else:
            self.fail(f"bot sent message kind 0x{kind:02x} ({len(payload)} bytes): Asterisk drops the call")

    def fail(self, error: str) -> None:
        """An error ends the call: the caller hangs up, as Asterisk drops a call it cannot handle."""
        self.errors.append(error)
        self.set_hangup("caller", f"dropped the call in step {self.step}: {error}")

    def set_hangup(self, by: str, detail: str) -> None:
        if not self.hangup_by:
            self.hangup_by, self.hangup_detail = by, detail
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- outbound ----------------------------------------------------------------------------------
    def tick(self, lag: float) -> None:
        """The frame clock's 20 ms tick: send one frame, speech when queued, silence (or nothing) otherwise."""
        if self.closed.is_set():
            return
        self.max_lag = max(self.max_lag, lag)
        if lag > FRAME_S:
            self.late_frames += 1
            now = self.loop.time()
            self.stalls.append((now - lag, now))
        if (frame := self._next_frame()) is not None:
            self.transport.write(frame)

    def _next_frame(self) -> bytes | None:
        now = self.loop.time()
        if now < self.audio_from:
            return None
        if self._speech is None:
            return self.silence if self.silence_frames else None
        utterance, pos, done = self._speech
        if pos == utterance.first_voiced:
            self._speech_start = now
        if pos == utterance.last_voiced:
            self._speech_end = now
        if self.record_caller:
            self.caller_chunks.append((now, utterance.payloads[pos]))
        if pos + 1 == len(utterance.messages):
            self._speech = None
            if not done.done():  # the script may have given up waiting (call time-out)
                done.set_result((self._speech_start, self._speech_end))
        else:
            self._speech = (utterance, pos + 1, done)
        if not self.silence_frames and not utterance.first_voiced <= pos <= utterance.last_voiced:
            return None  # silence suppression: the quiet lead-in and tail are not sent either
        return utterance.messages[pos]

    def _finish_speech(self) -> None:
        if self._speech is not None:
            _, _, done = self._speech
            self._speech = None
            now = self.loop.time()
            if not done.done():
                done.set_result((self._speech_start or now, self._speech_end or now))

    async def speak(self, utterance: PreparedUtterance) -> tuple[float, float]:
        """Queue speech for the sender; returns (speech start, end of speech) send times."""
        done: asyncio.Future[tuple[float, float]] = self.loop.create_future()
        self._speech_start = self._speech_end = 0.0
        self._speech = (utterance, 0, done)
        return await done

    def send_dtmf(self, digit: str) -> None:
        self.transport.write(audiosocket.encode_dtmf(digit))

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early if the call ends."""
        if seconds > 0:
            try:
                await asyncio.wait_for(self.closed.wait(), seconds)
            except TimeoutError:
                pass


RawTurn = tuple[int, str, str, float, float]  # step number, kind, label, start, end of caller input


async def _run_steps(proto: _CallProtocol, prepared: PreparedScript, turns: list[RawTurn]) -> int:
    """Play the script; returns how many steps completed. Appends one RawTurn per caller input."""
    loop = proto.loop
    steps: tuple[Step, ...] = prepared.script.steps
    for i, step in enumerate(steps):
        if proto.closed.is_set():
            return i
        proto.step = i + 1
        where = f"step {i + 1}"
        begin = loop.time()
        if isinstance(step, WaitForBot):
            while not proto.closed.is_set():
                now = loop.time()
                spoke = bool(proto.voiced_times) and proto.voiced_times[-1] >= begin
                if spoke and now - proto.voiced_times[-1] >= step.quiet:
                    break
                if not spoke and now - begin > step.timeout:
                    proto.fail(f"{where} (wait_for_bot): the bot did not speak within {step.timeout:g} s")
                    return i
                await asyncio.sleep(WAIT_POLL_S)
            else:
                return i
        elif isinstance(step, (SayText, PlayWav)):
            utterance = prepared.utterances[i]
            start, end = await proto.speak(utterance)
            turns.append((i + 1, "say" if isinstance(step, SayText) else "wav", utterance.label, start, end))
        elif isinstance(step, SendDtmf):
            end = begin
            for k, digit in enumerate(step.digits):
                await proto.sleep(begin + 0.1 + k * step.interval - loop.time())
                if proto.closed.is_set():
                    return i
                proto.send_dtmf(digit)
                end = loop.time()
            turns.append((i + 1, "dtmf", step.digits, begin, end))
        elif isinstance(step, Pause):
            await proto.sleep(step.seconds)
        elif isinstance(step, BargeIn):
            while proto.last_onset < begin and not proto.closed.is_set():
                if loop.time() - begin > step.timeout:
                    proto.fail(f"{where} (barge_in): the bot started no prompt within {step.timeout:g} s")
                    return i
                await asyncio.sleep(0.01)
            await proto.sleep(proto.last_onset + step.after - loop.time())
            if proto.closed.is_set():
                return i
            utterance = prepared.utterances[i]
            start, end = await proto.speak(utterance)
            turns.append((i + 1, "barge_in", utterance.label, start, end))
        elif isinstance(step, HangUp):
            return i + 1
    return len(steps)


def _turn_result(proto: _CallProtocol, t0: float, raw: RawTurn) -> TurnResult:
    step, kind, label, start, end = raw
    times = proto.voiced_times
    k = bisect.bisect_right(times, end)
    first = times[k] if k < len(times) else None
    before_end = times[k - 1] if k > 0 else -math.inf
    speaking = end - before_end <= SPEAKING_WINDOW_S and before_end >= start
    barge_stop = None
    if kind == "barge_in":
        j = bisect.bisect_left(times, start)
        if j > 0 and start - times[j - 1] <= SPEAKING_WINDOW_S:
            j -= 1
            while j + 1 < len(times) and times[j + 1] - times[j] <= BARGE_STOP_QUIET_S:
                j += 1
            barge_stop = round(times[j] - start, 4)
    return TurnResult(
        step=step, kind=kind, label=label, start_s=round(start - t0, 4), end_s=round(end - t0, 4),
        first_bot_audio_s=None if first is None else round(first - t0, 4),
        latency_s=None if first is None else round(first - end, 4),
        bot_speaking_at_end=speaking, barge_in_stop_s=barge_stop,
    )


def _api_headers(api_token: str | None) -> dict[str, str]:
    """The dialplan's credentials: ``Authorization: Bearer <token>`` (a ``dialplan`` token)."""
    return {"Authorization": f"Bearer {api_token}"} if api_token else {}


async def _announce(web_url: str, call_id: str, script: CallerScript, api_token: str | None) -> None:
    import httpx

    fields = {"caller_id": script.caller_id, "dnis": script.dnis}
    if script.flow:
        fields["flow"] = script.flow
    async with httpx.AsyncClient(timeout=3.0) as client:
        response = await client.post(f"{web_url.rstrip('/')}/api/calls/{call_id}/announce",
                                     content=urlencode(fields),
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              **_api_headers(api_token)})
        response.raise_for_status()


async def _lookup_handoff(web_url: str, call_id: str, api_token: str | None) -> dict[str, str]:
    import httpx

    async with httpx.AsyncClient(timeout=3.0) as client:
        response = await client.get(f"{web_url.rstrip('/')}/api/calls/{call_id}/handoff",
                                    headers=_api_headers(api_token))
        response.raise_for_status()
    return {key: values[0] for key, values in parse_qs(response.text.strip(), keep_blank_values=True).items()}


async def place_call(host: str, port: int, script: CallerScript | PreparedScript = DEFAULT_SCRIPT, *,
                     rate: int = 8000, timeout: float = 120.0, call_id: str | None = None,
                     record_caller: bool = False, threshold_dbfs: float = -45.0,
                     tts: TextToSpeech | None = None, connect_timeout: float = 5.0,
                     web_url: str | None = None, announce: bool = False, api_token: str | None = None,
                     clock: FrameClock | None = None, silence_frames: bool | None = None,
                     first_audio_after: float | None = None) -> CallResult:
    """Place one call against an AudioSocket server, play ``script`` and return what happened.

    A ``CallerScript`` is rendered here (off the loop); pass a ``PreparedScript`` to share rendering
    between calls. Problems (refused connection, protocol errors, time-out) end up in ``errors``.
    Calls placed together should share one ``clock`` (``run_calls`` does).
    With ``web_url`` (voicebot's web API), a bot hangup is followed by the dialplan's handoff lookup,
    ``GET {web_url}/api/calls/{uuid}/handoff``, as Asterisk's ``CURL()`` would do after AudioSocket;
    with ``announce`` too, the script's caller id, dnis and flow are first posted to
    ``{web_url}/api/calls/{uuid}/announce``, as the dialplan does before ``AudioSocket()``; both send
    ``api_token`` as the dialplan does.
    ``silence_frames`` and ``first_audio_after``, when given, override the script's call options.
    """
    loop = asyncio.get_running_loop()
    if isinstance(script, CallerScript):
        script = await asyncio.to_thread(prepare_script, script, rate, AudioRenderer(tts), threshold_dbfs)
    rate = script.rate
    call_id = call_id or str(uuid.uuid4())
    options = script.script
    proto = _CallProtocol(loop, rate, threshold_dbfs, record_caller,
                          options.silence_frames if silence_frames is None else silence_frames)
    if web_url and announce:
        try:
            await _announce(web_url, call_id, script.script, api_token)
        except Exception as exc:  # noqa: BLE001 - the dialplan goes on without it; the result says so
            proto.errors.append(f"announce at {web_url}: {exc!r}")
    try:
        await asyncio.wait_for(loop.create_connection(lambda: proto, host, port), connect_timeout)
    except (OSError, TimeoutError) as exc:
        return CallResult(call_id, script.script.caller_id, (), b"", None, "", "",
                          (f"connect to {host}:{port}: {exc!r}",), 0.0, 0, 0, GapReport(), 0.0, 0)
    t0 = loop.time()
    proto.transport.write(audiosocket.encode_uuid(call_id))
    proto.audio_from = t0 + (options.first_audio_after if first_audio_after is None else first_audio_after)
    own_clock = clock is None
    clock = clock or FrameClock()
    clock.add(proto.tick)
    raw_turns: list[RawTurn] = []
    steps_done = 0
    try:
        steps_done = await asyncio.wait_for(_run_steps(proto, script, raw_turns), timeout)
    except TimeoutError:
        proto.errors.append(f"call did not finish within {timeout:g} s (stuck in step {proto.step})")
    if not proto.closed.is_set():
        proto.set_hangup("caller", f"closed TCP after step {proto.step}")
    try:
        await asyncio.wait_for(proto.closed.wait(), CLOSE_TIMEOUT_S)
    except TimeoutError:  # the bot stopped reading: our unsent audio holds the socket open
        proto.transport.abort()
        await proto.closed.wait()
    clock.remove(proto.tick)
    if own_clock:
        await clock.stop()
    end = loop.time()
    turns = tuple(_turn_result(proto, t0, raw) for raw in raw_turns)
    handoff = None
    if web_url and proto.hangup_by == "bot":
        try:
            handoff = await _lookup_handoff(web_url, call_id, api_token)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, as the dialplan would see it
            proto.errors.append(f"handoff lookup at {web_url}: {exc!r}")
    return CallResult(
        call_id=call_id, caller_id=script.script.caller_id, turns=turns,
        bot_audio=_place(proto.bot_chunks, t0),
        caller_audio=_place([(t, resample(p, rate, RECORD_RATE)) for t, p in proto.caller_chunks], t0)
        if record_caller else None,
        hangup_by=proto.hangup_by, hangup_detail=proto.hangup_detail, errors=tuple(proto.errors),
        duration_s=end - t0, frames_received=len(proto.arrivals), voiced_frames=len(proto.voiced_times),
        gaps=find_voiced_gaps(proto.arrivals, proto.voiced, proto.durations, stalls=proto.stalls),
        max_send_lag_s=proto.max_lag, steps_done=steps_done, late_frames=proto.late_frames, handoff=handoff,
        bot_rates=tuple((round(t - t0, 4), rate) for t, rate in proto.bot_rates),
    )


# --------------------------------------------------------------------------------------------------
# Many calls
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """N concurrent calls and their aggregate figures."""

    calls: tuple[CallResult, ...]
    wall_s: float
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.calls)


def summarize(calls: Sequence[CallResult]) -> dict[str, Any]:
    """Aggregate latency percentiles (ms), gaps, underruns and errors over calls."""
    latencies = [t.latency_s * 1000 for c in calls for t in c.turns
                 if t.latency_s is not None and not t.bot_speaking_at_end]
    unanswered = sum(1 for c in calls for t in c.turns if t.latency_s is None)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    hangups: dict[str, int] = {}
    handoffs: dict[str, int] = {}
    for c in calls:
        hangups[c.hangup_by or "none"] = hangups.get(c.hangup_by or "none", 0) + 1
        if c.handoff is not None:
            queue = c.handoff.get("queue") or "(none)"
            handoffs[queue] = handoffs.get(queue, 0) + 1
    return {
        "calls": len(calls), "ok": sum(c.ok for c in calls), "failed": sum(not c.ok for c in calls),
        "turns": sum(len(c.turns) for c in calls), "measured_turns": len(latencies),
        "unanswered_turns": unanswered,
        "overlapped_turns": sum(1 for c in calls for t in c.turns if t.bot_speaking_at_end),
        "latency_ms": {"p50": ms(percentile(latencies, 50)), "p95": ms(percentile(latencies, 95)),
                       "max": ms(max(latencies, default=None)),
                       "mean": ms(sum(latencies) / len(latencies) if latencies else None)},
        "voiced_gaps": sum(c.gaps.gaps for c in calls),
        "voiced_gaps_in_simulator_stalls": sum(c.gaps.gaps_in_stalls for c in calls),
        "max_gap_ms": round(max((c.gaps.max_gap_s for c in calls), default=0.0) * 1000, 1),
        "underruns": sum(c.gaps.underruns for c in calls),
        "max_underrun_ms": round(max((c.gaps.max_underrun_s for c in calls), default=0.0) * 1000, 1),
        "max_send_lag_ms": round(max((c.max_send_lag_s for c in calls), default=0.0) * 1000, 1),
        "late_frames": sum(c.late_frames for c in calls),
        "hangups": hangups,
        "handoffs": handoffs,
        "errors": [f"{c.call_id}: {e}" for c in calls for e in c.errors],
    }


async def run_calls(host: str, port: int, script: CallerScript | PreparedScript = DEFAULT_SCRIPT, *,
                    calls: int = 1, stagger: float = 0.0, rate: int = 8000, timeout: float = 120.0,
                    record_caller: bool = False, threshold_dbfs: float = -45.0,
                    tts: TextToSpeech | None = None, web_url: str | None = None,
                    announce: bool = False, api_token: str | None = None, silence_frames: bool | None = None,
                    first_audio_after: float | None = None) -> LoadResult:
    """``calls`` concurrent calls in this loop, started ``stagger`` seconds apart, script rendered once."""
    loop = asyncio.get_running_loop()
    if isinstance(script, CallerScript):
        script = await asyncio.to_thread(prepare_script, script, rate, AudioRenderer(tts), threshold_dbfs)

    clock = FrameClock()

    async def one(k: int) -> CallResult:
        await asyncio.sleep(k * stagger)
        return await place_call(host, port, script, timeout=timeout, record_caller=record_caller,
                                threshold_dbfs=threshold_dbfs, web_url=web_url, announce=announce,
                                api_token=api_token, clock=clock, silence_frames=silence_frames, first_audio_after=first_audio_after)

    start = loop.time()
    try:
        results = tuple(await asyncio.gather(*(one(k) for k in range(calls))))
    finally:
        await clock.stop()
    return LoadResult(results, loop.time() - start, summarize(results))


# --------------------------------------------------------------------------------------------------
# Command line (``voicebot call``)
# --------------------------------------------------------------------------------------------------


def _fmt(value: float | None, scale: float = 1000.0) -> str:
    return "-" if value is None else f"{value * scale:.0f}"


def print_call(result: CallResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"call {result.call_id}  caller {result.caller_id or '-'}")
    for column in ("step", "kind", "caller input", "start s", "end s", "latency ms", "note"):
        table.add_column(column, justify="right" if column.endswith(("s", "ms")) else "left")
    for t in result.turns:
        note = "bot still talking" if t.bot_speaking_at_end else ""
        if t.barge_in_stop_s is not None:
            note = f"bot stopped {t.barge_in_stop_s * 1000:.0f} ms after caller started"
        table.add_row(str(t.step), t.kind, t.label[:40], f"{t.start_s:.2f}", f"{t.end_s:.2f}",
                      _fmt(t.latency_s) if t.latency_s is not None else "no answer", note)
    console = Console()
    console.print(table)
    g = result.gaps
    if result.handoff is not None:
        console.print(f"handoff lookup: {result.handoff}")
    if len(result.bot_rates) > 1:
        changes = ", then ".join(f"{rate} Hz from {t:.2f} s" for t, rate in result.bot_rates)
        console.print(f"bot audio rate: {changes}")
    console.print(f"hangup: {result.hangup_by or '-'} ({result.hangup_detail}); {result.duration_s:.1f} s, "
                  f"{result.frames_received} frames received ({result.voiced_frames} voiced), "
                  f"{g.utterances} bot utterances, "
                  f"voiced gaps > 60 ms: {g.gaps} (max {g.max_gap_s * 1000:.0f} ms, "
                  f"{g.gaps_in_stalls} while the simulator stalled), "
                  f"underruns: {g.underruns}, simulator send lag max {result.max_send_lag_s * 1000:.0f} ms "
                  f"({result.late_frames} frames > 20 ms late)")
    for error in result.errors:
        console.print(f"[red]error:[/red] {error}")


def print_summary(summary: dict[str, Any], wall_s: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['calls']} calls in {wall_s:.1f} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    lat = summary["latency_ms"]
    rows = [
        ("calls ok / failed", f"{summary['ok']} / {summary['failed']}"),
        ("turns measured (unanswered, bot talking at end)",
         f"{summary['measured_turns']} ({summary['unanswered_turns']}, {summary['overlapped_turns']})"),
        ("latency p50 / p95 / max ms", f"{lat['p50']} / {lat['p95']} / {lat['max']}"),
        ("voiced gaps > 60 ms (max ms)", f"{summary['voiced_gaps']} ({summary['max_gap_ms']})"),
        ("  of which while the simulator stalled", f"{summary['voiced_gaps_in_simulator_stalls']}"),
        ("underruns, 60 ms buffer (max ms)", f"{summary['underruns']} ({summary['max_underrun_ms']})"),
        ("simulator send lag max ms (frames > 20 ms late)",
         f"{summary['max_send_lag_ms']} ({summary['late_frames']})"),
        ("hangups", ", ".join(f"{k}: {v}" for k, v in sorted(summary["hangups"].items()))),
        ("handoffs by queue", ", ".join(f"{k}: {v}" for k, v in sorted(summary["handoffs"].items())) or "-"),
    ]
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    for error in summary["errors"][:20]:
        console.print(f"[red]error:[/red] {error}")
    if len(summary["errors"]) > 20:
        console.print(f"... and {len(summary['errors']) - 20} more errors")


def run_cli(script_path: Path | None, host: str, port: int, calls: int, stagger: float, rate: int,
            record: Path | None, as_json: bool, timeout: float, web_url: str | None = None,
            silence_frames: bool | None = None, first_audio_after: float | None = None,
            api_token: str | None = None) -> int:
    """``voicebot call``: returns the exit code (1 if any call had an error, 2 for a bad script).
    ``silence_frames``/``first_audio_after`` override the script's call options when given."""
    from voicebot.caller.script import load_script

    try:
        script = load_script(script_path) if script_path else DEFAULT_SCRIPT
        prepared = prepare_script(script, rate)
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(run_calls(host, port, prepared, calls=calls, stagger=stagger, timeout=timeout,
                                   record_caller=record is not None, web_url=web_url,
                                   announce=web_url is not None, api_token=api_token,
                                   silence_frames=silence_frames,
                                   first_audio_after=first_audio_after))
    if record is not None:
        for call in result.calls:
            if call.hangup_by:
                call.write_wav(record / f"{call.call_id}.wav")
    if as_json:
        out: dict[str, Any] = {"script": script.name, "rate": rate, "wall_s": round(result.wall_s, 3),
                               "silence_frames": script.silence_frames if silence_frames is None else silence_frames,
                               "summary": result.summary}
        out["calls"] = [c.to_dict() for c in result.calls]
        print(json.dumps(out, indent=2))
    else:
        if calls == 1:
            print_call(result.calls[0])
        else:
            print_summary(result.summary, result.wall_s)
    return 0 if result.ok else 1
