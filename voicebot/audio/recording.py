"""Call recordings: one stereo file per call, the caller left and the bot right, written off the hot path.

The call's audio path only hands frames over: :class:`CallRecording` is the call's tap (the caller's frames
from the session, every AudioSocket message the player writes), each hand-over one ``put_nowait`` on the
:class:`RecordingWriter`'s bounded queue. When the queue is full the frame is dropped and counted, the call
never waits. One writer thread serves every call: it places each frame on its channel by the time it
arrived or was sent, and writes it into that channel's raw file at that place (a gap reads back as
silence). When the call ends a second thread interleaves both channels into the final file — WAV (PCM 16-bit
at the call's rate) or Ogg/Opus — and reports it, so a long call's ending never holds up the frames of the
others; a discarded recording (the caller opted out) leaves no file.

Alignment: a channel's first frame goes where its time says (seconds since the recording's ``t0`` × rate);
each later frame follows the previous one, unless its time is more than :data:`RESYNC_S` past the end of
what the channel holds (a caller leg with silence suppression, an idle player without keep-alive): then
it goes where its time says and the gap is silence. So the audio is never stretched or cut, and jitter in
arrival times does not move it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import queue
import re
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import structlog

from voicebot.audio.audiosocket import AUDIO_RATES, HEADER_SIZE
from voicebot.audio.codecs import StreamResampler
from voicebot.types import AudioFrame

log = structlog.get_logger(__name__)

RecordingFormat = Literal["wav", "opus"]
SUFFIX: dict[str, str] = {"wav": ".wav", "opus": ".ogg"}
RESYNC_S = 0.25  # a frame this much later than its channel's end starts after a gap of silence
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_BIT_RATE = 32000  # stereo speech; per channel ≈ 16 kb/s
_MERGE_SAMPLES = 1 << 16  # interleaved in blocks of this many samples per channel
LEFT, RIGHT = 0, 1


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """A finished recording."""

    call_id: str
    path: Path
    format: str
    sample_rate: int
    duration_s: float
    size_bytes: int
    dropped_frames: int  # frames lost to a full writer queue


class ChannelTrack:
    """Where each frame of one channel goes in the file (in samples), from its time (see the module doc)."""

    def __init__(self, t0: float, rate: int, resync_s: float = RESYNC_S) -> None:
        self.t0, self.rate = t0, rate
        self._resync = round(resync_s * rate)
        self.end: int | None = None  # one past the last sample placed

    def place(self, at: float, samples: int) -> int:
        due = max(0, round((at - self.t0) * self.rate))
        start = due if self.end is None or due - self.end > self._resync else self.end
        self.end = start + samples
        return start


class CallRecording:
    """One call's tap (``voicebot.engines.CallRecorderTap``): hands frames to the writer, never waits."""

    def __init__(self, writer: RecordingWriter, call_id: str, path: Path, fmt: RecordingFormat, rate: int,
                 t0: float, done: asyncio.Future[RecordedFile | None]) -> None:
        self.writer, self.call_id, self.path, self.format, self.rate, self.t0 = writer, call_id, path, fmt, rate, t0
        self.done = done  # resolved by the writer with the file (None: discarded or failed)
        self.dropped = 0  # frames the full queue refused
        self.closed = False
        self.failed = False  # set by the writer thread: later frames are ignored

    def caller(self, frame: AudioFrame) -> None:
        """A frame of the caller's audio (as it arrived)."""
        if not self.closed:
            self.writer.offer(self, LEFT, frame.pcm, frame.sample_rate, frame.timestamp)

    def bot(self, message: bytes, at: float) -> None:
        """An AudioSocket message the player wrote at ``at``: the bot's audio as played (silence included)."""
        rate = AUDIO_RATES.get(message[0])
        if not self.closed and rate is not None:
            self.writer.offer(self, RIGHT, message[HEADER_SIZE:], rate, at)

    def close(self) -> asyncio.Future[RecordedFile | None]:
        """The call is over: finish the file (in the writer). Idempotent."""
        if not self.closed:
            self.closed = True
            self.writer.control(self, keep=True)
        return self.done

    def discard(self) -> asyncio.Future[RecordedFile | None]:
        """No recording for this call (the caller opted out): what was written is deleted. Idempotent."""
        if not self.closed:
            self.closed = True
            self.writer.control(self, keep=False)
        return self.done


class _Open:
    """The writer thread's state of one recording: a raw file and a track per channel."""

    def __init__(self, rec: CallRecording) -> None:
        self.rec = rec
        self.raw = raw_paths(rec.path, rec.rate)
        rec.path.parent.mkdir(parents=True, exist_ok=True)
        self.files = [open(path, "w+b") for path in self.raw]  # noqa: SIM115 - closed in finish()
        self.tracks = [ChannelTrack(rec.t0, rec.rate), ChannelTrack(rec.t0, rec.rate)]
        self.resamplers: list[dict[int, StreamResampler]] = [{}, {}]

    def write(self, channel: int, pcm: bytes, rate: int, at: float) -> None:
        if rate != self.rec.rate:
            resampler = self.resamplers[channel].setdefault(rate, StreamResampler(rate, self.rec.rate))
            pcm = resampler.process(pcm)
        if not pcm:
            return
        start = self.tracks[channel].place(at, len(pcm) // 2)
        file = self.files[channel]
        file.seek(start * 2)
        file.write(pcm)

    def finish(self, keep: bool) -> RecordedFile | None:
        for file in self.files:
            file.flush()
        try:
            if not keep:
                return None
            length = max(track.end or 0 for track in self.tracks)
            if self.rec.format == "opus":
                _write_opus(self.rec.path, self.files, length, self.rec.rate)
            else:
                _write_wav(self.rec.path, self.files, length, self.rec.rate)
            return RecordedFile(self.rec.call_id, self.rec.path, self.rec.format, self.rec.rate, length / self.rec.rate,
                                self.rec.path.stat().st_size, self.rec.dropped)
        finally:
            for file, path in zip(self.files, self.raw, strict=True):
                file.close()
                path.unlink(missing_ok=True)

    def abandon(self) -> None:
        """A failed recording: nothing is left behind."""
        for file, path in zip(self.files, self.raw, strict=True):
            with contextlib.suppress(OSError):
                file.close()
            path.unlink(missing_ok=True)
        self.rec.path.unlink(missing_ok=True)


def raw_paths(path: Path, rate: int) -> list[Path]:
    """The raw files of the left and right channels of the recording ``path`` at ``rate`` while it is made."""
    return [path.with_name(f"{path.name}.{rate}.{side}.part") for side in ("left", "right")]


_RAW = re.compile(r"^(?P<call>.+)(?P<suffix>\.wav|\.ogg)\.(?P<rate>\d+)\.(?:left|right)\.part$")


def recover_unfinished(directory: Path, min_age_s: float = 60.0) -> list[RecordedFile]:
    """Finish the recordings a stopped process left as raw channel files (untouched for ``min_age_s``: another
    worker's call in progress is left alone), as they are. Blocking."""
    found: dict[Path, int] = {}
    for raw in directory.glob("*.part") if directory.is_dir() else ():
        if (match := _RAW.match(raw.name)) and time.time() - raw.stat().st_mtime >= min_age_s:
            found[directory / f"{match['call']}{match['suffix']}"] = int(match["rate"])
    recovered = []
    for path, rate in found.items():
        raw = raw_paths(path, rate)
        if any(p.exists() and time.time() - p.stat().st_mtime < min_age_s for p in raw):
            continue
        fmt = next(f for f, suffix in SUFFIX.items() if path.name.endswith(suffix))
        files = [open(p, "rb") if p.exists() else io.BytesIO() for p in raw]  # noqa: SIM115 - closed below
        try:
            length = max(f.seek(0, io.SEEK_END) for f in files) // 2
            (_write_opus if fmt == "opus" else _write_wav)(path, files, length, rate)
        except Exception:  # noqa: BLE001 - one broken leftover does not stop the others
            log.exception("recording not recovered", path=str(path))
            continue
        finally:
            for f in files:
                f.close()
        for p in raw:
            p.unlink(missing_ok=True)
        recovered.append(RecordedFile(path.name.removesuffix(SUFFIX[fmt]), path, fmt, rate, length / rate,
                                      path.stat().st_size, 0))
        log.warning("unfinished recording recovered", call_id=recovered[-1].call_id, seconds=round(length / rate, 1))
    return recovered


def _blocks(files: list, length: int):
    """Both channels as int16 arrays of up to ``_MERGE_SAMPLES`` samples, padded with silence to ``length``."""
    for file in files:
        file.seek(0)
    for start in range(0, length, _MERGE_SAMPLES):
        count = min(_MERGE_SAMPLES, length - start)
        block = np.zeros((count, 2), dtype="<i2")
        for channel, file in enumerate(files):
            data = np.frombuffer(file.read(count * 2), dtype="<i2")
            block[:len(data), channel] = data
        yield block


def _write_wav(path: Path, files: list, length: int, rate: int) -> None:
    partial = path.with_name(path.name + ".part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        for block in _blocks(files, length):
            out.writeframes(block.tobytes())
    os.replace(partial, path)


def _write_opus(path: Path, files: list, length: int, rate: int) -> None:
    import av  # PyAV (FFmpeg's libopus), only when the opus format is chosen

    opus_rate = min((r for r in OPUS_RATES if r >= rate), default=48000)
    resamplers = [StreamResampler(rate, opus_rate), StreamResampler(rate, opus_rate)]
    partial = path.with_name(path.name + ".part")
    with av.open(str(partial), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=opus_rate, layout="stereo")
        stream.bit_rate = OPUS_BIT_RATE
        pts = 0
        blocks = _blocks(files, length)
        block = next(blocks, np.zeros((0, 2), dtype="<i2"))
        while block is not None:
            following = next(blocks, None)  # one block ahead: the resamplers flush with the last one
            sides = [np.frombuffer(resamplers[c].process(np.ascontiguousarray(block[:, c]).tobytes(),
                                                         last=following is None), dtype="<i2") for c in (LEFT, RIGHT)]
            block = following
            count = min(len(s) for s in sides)
            if count == 0:
                continue
            frame = av.AudioFrame.from_ndarray(np.stack([s[:count] for s in sides]).T.reshape(1, -1).copy(),
                                               format="s16", layout="stereo")
            frame.sample_rate, frame.pts = opus_rate, pts
            pts += count
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    os.replace(partial, path)


class RecordingWriter:
    """The one writer thread of the service's recordings and its bounded queue of frames."""

    def __init__(self, directory: Path, queue_frames: int = 50_000) -> None:
        self.directory = directory
        self.max_frames = queue_frames
        self.dropped_frames = 0  # every call's, since start
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._finisher = ThreadPoolExecutor(1, thread_name_prefix="recording-finish")  # files of ended calls
        self._thread = threading.Thread(target=self._run, name="recording-writer", daemon=True)
        self._thread.start()

    def open(self, call_id: str, rate: int, t0: float, fmt: RecordingFormat = "wav") -> CallRecording:
        """A recording of one call, its time 0 at ``t0`` (monotonic, the clock of the frames' times), at the
        call's rate (frames at other rates are resampled). Call it on the event loop."""
        path = self.directory / f"{call_id}{SUFFIX[fmt]}"
        done: asyncio.Future[RecordedFile | None] = asyncio.get_running_loop().create_future()
        return CallRecording(self, call_id, path, fmt, rate, t0, done)

    def offer(self, rec: CallRecording, channel: int, pcm: bytes, rate: int, at: float) -> None:
        """Queue a frame, or drop it (counted) when the queue is full: never waits."""
        if self._queue.qsize() >= self.max_frames:
            rec.dropped += 1
            self.dropped_frames += 1
            if rec.dropped == 1:
                log.warning("recording queue full; dropping recording frames", call_id=rec.call_id,
                            queue_frames=self.max_frames)
            return
        self._queue.put_nowait((rec, channel, pcm, rate, at))

    def control(self, rec: CallRecording, keep: bool) -> None:
        """End a recording after the frames queued before (kept or discarded); never dropped."""
        self._queue.put_nowait((rec, None, keep, 0, 0.0))

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued and stop the threads (blocking: call it in a worker thread)."""
        self._queue.put_nowait((None, None, False, 0, 0.0))
        self._thread.join(timeout)
        self._finisher.shutdown(wait=True)

    def _run(self) -> None:
        states: dict[int, _Open] = {}
        while True:
            rec, channel, payload, rate, at = self._queue.get()
            if rec is None:
                break
            key = id(rec)
            try:
                state = states.get(key)
                if channel is not None:
                    if state is None:
                        if rec.failed:
                            continue
                        state = states[key] = _Open(rec)
                    state.write(channel, payload, rate, at)
                    continue
                states.pop(key, None)
                if state is None:
                    if payload and not rec.failed:
                        log.warning("recording has no audio", call_id=rec.call_id)
                    _resolve(rec, None)
                else:  # interleaving (or encoding) a long call must not hold up the other calls' frames
                    self._finisher.submit(_finish, state, payload)
            except Exception as error:  # noqa: BLE001 - a failed recording never stops the writer
                log.exception("recording failed", call_id=rec.call_id, error=repr(error))
                rec.failed = True
                failed = states.pop(key, None)
                if failed is not None:
                    failed.abandon()
                _resolve(rec, None)
        for state in states.values():  # stopped with recordings open: keep what they hold
            self._finisher.submit(_finish, state, True)


def _finish(state: _Open, keep: bool) -> None:
    """Finish (or discard) one recording and hand the result to its call."""
    try:
        _resolve(state.rec, state.finish(keep))
    except Exception as error:  # noqa: BLE001 - a failed recording never stops the others
        log.exception("recording failed", call_id=state.rec.call_id, error=repr(error))
        state.abandon()
        _resolve(state.rec, None)


def _resolve(rec: CallRecording, result: RecordedFile | None) -> None:
    def set_result() -> None:
        if not rec.done.done():
            rec.done.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        rec.done.get_loop().call_soon_threadsafe(set_result)
