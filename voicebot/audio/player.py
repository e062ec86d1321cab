"""The call's paced, interruptible audio output: a queue of utterances written as 20 ms AudioSocket frames.

Asterisk plays whatever arrives as soon as it arrives (it does not pace), so the pace is ours: frame *n*
goes out at ``t0 + n·20 ms`` on a monotonic clock. Deadlines are absolute, so sleeping late never
accumulates into drift; a loop that falls behind sends the frames that are due at once (audio is
never skipped), and one that is more than ``max_lag_s`` behind (the event loop was blocked) starts a
new grid from now rather than bursting seconds of audio into Asterisk.

Every message goes out in one ``write`` (header and payload together: Asterisk drops a call whose
payload arrives in pieces), always with a non-zero even length. When nothing is queued and
``keepalive`` is on, silence frames keep flowing, so the app form's 2 s inactivity timeout never fires
and the far end's jitter buffer stays primed.

``cancel()`` is synchronous: the next frame written after it never belongs to a cancelled utterance,
so the bot stops within one frame. Utterances queued with ``interruptible=False`` survive ``cancel()``.

Each utterance keeps the rate (and AudioSocket kind) it was queued with, so the call's rate may change at
any moment (``set_sample_rate``: the caller's audio changed kind): what is queued plays as it was made,
keep-alive silence and later utterances use the new rate. Asterisk plays any slin kind on any channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

from voicebot.audio.audiosocket import HEADER, KIND_FOR_RATE

log = structlog.get_logger(__name__)


class PeerNotReading(ConnectionError):
    """The peer stopped reading: more outbound audio is unsent than the call may buffer."""


class Playback:
    """One queued utterance. ``done`` resolves True when it played to the end, False when cancelled
    (or when its audio stream failed: ``error`` then holds the exception)."""

    def __init__(self, audio: bytes | AsyncIterator[bytes], interruptible: bool, sample_rate: int, frame_ms: int,
                 max_ahead_s: float) -> None:
        self.interruptible = interruptible
        self.sample_rate = sample_rate
        self.frame_bytes = sample_rate * frame_ms // 1000 * 2
        self.header = HEADER.pack(KIND_FOR_RATE[sample_rate], self.frame_bytes)
        self.started = asyncio.Event()
        self.first_frame_at: float | None = None
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.error: BaseException | None = None
        self.frames = 0
        self.streamed = not isinstance(audio, (bytes, bytearray, memoryview))
        self._offset = 0
        self._room: asyncio.Future[None] | None = None
        self._max_ahead = int(max_ahead_s * sample_rate) * 2
        self._feeder: asyncio.Task[None] | None = None
        if self.streamed:
            self._buffer = bytearray()
            self._ended = False
            self._feeder = asyncio.create_task(self._feed(audio))  # type: ignore[arg-type]
        else:
            self._buffer = memoryview(bytes(audio)).cast("B")  # type: ignore[arg-type]
            self._ended = True

    @property
    def buffered(self) -> int:
        """Bytes received and not yet sent."""
        return len(self._buffer) - self._offset

    async def _feed(self, source: AsyncIterator[bytes]) -> None:
        """Pull the stream ahead of playback (so synthesis overlaps playing), at most ``max_ahead`` bytes."""
        try:
            async for chunk in source:
                if chunk:
                    self._buffer += chunk
                while self.buffered > self._max_ahead and not self.done.done():
                    self._room = asyncio.get_running_loop().create_future()
                    await self._room
                if self.done.done():
                    break
        except Exception as error:  # noqa: BLE001 - a failed stream ends its utterance, not the call
            self.error = error
            log.warning("audio stream failed; utterance ended early", error=repr(error))
        finally:
            self._ended = True
            aclose = getattr(source, "aclose", None)
            if aclose is not None and self.done.done():
                with contextlib.suppress(Exception):
                    await aclose()  # cancelled: let the producer (e.g. TTS) clean up now

    def take(self, size: int) -> bytes | bytearray | memoryview | None:
        """The next ``size`` bytes; at the end of the audio, what is left padded with silence to ``size``.
        None when no full frame is ready (stream behind, or the end reached)."""
        available = self.buffered
        if available >= size:
            start = self._offset
            self._offset += size
            chunk = self._buffer[start:self._offset]
            if self.streamed:
                if self._offset >= 65536 and self._offset * 2 >= len(self._buffer):
                    del self._buffer[:self._offset]  # compact now and then, not per frame
                    self._offset = 0
                if self._room is not None and not self._room.done() and available - size <= self._max_ahead:
                    self._room.set_result(None)
            return chunk
        if self._ended and available > 0:
            chunk = bytes(self._buffer[self._offset:]) + bytes(size - available)
            self._offset = len(self._buffer)
            return chunk
        return None

    @property
    def exhausted(self) -> bool:
        return self._ended and self.buffered == 0

    def finish(self, completed: bool) -> None:
        if not self.done.done():
            self.done.set_result(completed and self.error is None)
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
        if self._feeder is not None and not self._feeder.done() and not completed:
            self._feeder.cancel()


class Player:
    """Plays queued utterances to one call in real time. ``run()`` is the pacing loop (a task per call).

    ``write`` takes one whole AudioSocket message. ``unsent`` (optional) returns the bytes written but not
    yet accepted by the socket; above ``max_unsent_bytes`` the loop raises :class:`PeerNotReading`.
    ``clock``/``sleep`` are injectable for tests; in production they are the monotonic clock and asyncio.
    """

    def __init__(
        self,
        write: Callable[[bytes], None],
        sample_rate: int,
        frame_ms: int = 20,
        keepalive: bool = True,
        max_unsent_bytes: int = 256 * 1024,
        *,
        unsent: Callable[[], int] | None = None,
        max_ahead_s: float = 30.0,
        max_lag_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._write = write
        self.frame_ms = frame_ms
        self.keepalive = keepalive
        self.max_unsent_bytes = max_unsent_bytes
        self._unsent = unsent
        self._max_ahead_s = max_ahead_s
        self._max_lag = max_lag_s
        self._clock, self._sleep = clock, sleep
        self._queue: deque[Playback] = deque()
        self._current: Playback | None = None
        self._wake: asyncio.Future[None] | None = None
        self._closed = False
        self.sent_frames = 0
        self.underruns = 0
        self.late_restarts = 0  # the loop was more than max_lag_s behind and started a new grid
        self.max_late_s = 0.0  # the latest any frame went out after its deadline
        # Called with every message written and its time (a call recording's tap: it must return at once)
        self.tap: Callable[[bytes, float], None] | None = None
        self.set_sample_rate(sample_rate)

    def set_sample_rate(self, sample_rate: int) -> None:
        """The outbound rate (and AudioSocket kind) of keep-alive silence and of utterances queued from now on;
        queued ones keep their own."""
        if sample_rate not in KIND_FOR_RATE:
            raise ValueError(f"AudioSocket has no kind for {sample_rate} Hz")
        self.sample_rate = sample_rate
        self.frame_bytes = sample_rate * self.frame_ms // 1000 * 2
        self._silence = HEADER.pack(KIND_FOR_RATE[sample_rate], self.frame_bytes) + bytes(self.frame_bytes)

    # ------------------------------------------------------------------ control (any task)

    def play(self, audio: bytes | AsyncIterator[bytes], interruptible: bool = True,
             sample_rate: int | None = None) -> Playback:
        """Queue an utterance: PCM at ``sample_rate`` (default: the player's), whole or as a stream of chunks
        of any size."""
        rate = self.sample_rate if sample_rate is None else sample_rate
        if rate not in KIND_FOR_RATE:
            raise ValueError(f"AudioSocket has no kind for {rate} Hz")
        playback = Playback(audio, interruptible, rate, self.frame_ms, self._max_ahead_s)
        if self._closed:
            playback.finish(False)
            return playback
        self._queue.append(playback)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        return playback

    def cancel(self, include_uninterruptible: bool = False) -> int:
        """Stop the current and queued interruptible utterances (all, if ``include_uninterruptible``).
        Takes effect before the next frame is written. Returns how many were cancelled."""
        cancelled = 0
        current = self._current
        if current is not None and not current.done.done() and (current.interruptible or include_uninterruptible):
            current.finish(False)
            self._current = None
            cancelled += 1
        kept: deque[Playback] = deque()
        for playback in self._queue:
            if playback.interruptible or include_uninterruptible:
                playback.finish(False)
                cancelled += 1
            else:
                kept.append(playback)
        self._queue = kept
        return cancelled

    @property
    def speaking(self) -> bool:
        """A playback is producing audio (its first frame went out and it has not ended)."""
        current = self._current
        return current is not None and current.first_frame_at is not None and not current.done.done()

    @property
    def pending(self) -> int:
        """Utterances queued or playing."""
        return len(self._queue) + (self._current is not None)

    async def drain(self) -> None:
        """Wait until every queued utterance has played or been cancelled (needs ``run()`` running)."""
        while True:
            waiting = [p.done for p in ([self._current] if self._current else []) + list(self._queue)
                       if not p.done.done()]
            if not waiting:
                return
            await asyncio.wait(waiting)

    def close(self) -> None:
        """The call is over: cancel everything (interruptible or not) and let ``run()`` return."""
        self._closed = True
        self.cancel(include_uninterruptible=True)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    # ------------------------------------------------------------------ pacing loop

    async def run(self) -> None:
        """Write one frame per 20 ms slot until ``close()``. Raises :class:`PeerNotReading`."""
        frame_s = self.frame_ms / 1000
        t0, n = self._clock(), 0
        try:
            while not self._closed:
                message = self._next_message()
                if message is None:  # idle without keep-alive: sleep until something is queued
                    self._wake = asyncio.get_running_loop().create_future()
                    await self._wake
                    self._wake = None
                    t0, n = self._clock(), 0
                    continue
                if message:
                    self._write(message)
                    self.sent_frames += 1
                    if self.tap is not None:
                        self.tap(message, self._clock())
                    if self._unsent is not None and (unsent := self._unsent()) > self.max_unsent_bytes:
                        raise PeerNotReading(f"{unsent} bytes unsent > max_unsent_bytes={self.max_unsent_bytes}")
                n += 1
                deadline = t0 + n * frame_s
                delay = deadline - self._clock()
                if delay > 0:
                    await self._sleep(delay)
                    delay = deadline - self._clock()
                if -delay > self.max_late_s:
                    self.max_late_s = -delay
                if -delay > self._max_lag:
                    self.late_restarts += 1
                    t0, n = self._clock(), 0
        finally:
            self.close()

    def _next_message(self) -> bytes | None:
        """The message for this slot: audio, silence, ``b""`` (send nothing, keep the grid) or None (idle)."""
        while True:
            playback = self._current
            if playback is None:
                if not self._queue:
                    return self._silence if self.keepalive else None
                playback = self._current = self._queue.popleft()
            if playback.done.done():  # cancelled while queued
                self._current = None
                continue
            chunk = playback.take(playback.frame_bytes)
            if chunk is not None:
                if playback.first_frame_at is None:
                    playback.first_frame_at = self._clock()
                    playback.started.set()
                playback.frames += 1
                return playback.header + chunk
            if playback.exhausted:  # its last frame went out one slot ago: it has played
                playback.finish(True)
                self._current = None
                continue
            if playback.first_frame_at is not None:
                self.underruns += 1  # a streamed utterance fell behind: a voiced gap
            return self._silence if self.keepalive else b""
