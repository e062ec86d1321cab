"""The protocols every engine implements. Real implementations live beside their concern
(``speech/``, ``nlu/``, ``store/``); fakes for tests live in ``tests/fakes.py``.

Engines that hold model weights are created once at start-up (``app.py``), warmed, and shared by all
calls. Per-call state lives in the small objects they hand out (a recognition stream, a VAD state).
Blocking inference runs in the shared bounded executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from voicebot.store.records import CallRecord
from voicebot.types import (
    AudioFrame,
    CallerSignals,
    CallOutcome,
    Emotion,
    HandoffPacket,
    InboundEvent,
    OriginateRequest,
    OriginateResult,
    QueueStatus,
    RecognitionHints,
    TelephonyEvent,
    Transcript,
    Turn,
    Understanding,
)


@runtime_checkable
class VoiceActivityDetector(Protocol):
    """Frame-level speech/non-speech. One instance per call (webrtcvad keeps a little state)."""

    def is_speech(self, pcm: bytes, sample_rate: int) -> bool:
        """``pcm`` is exactly 10, 20 or 30 ms of audio."""
        ...


class RecognitionStream(Protocol):
    """One utterance being recognised. Created per caller turn; cheap."""

    async def accept(self, frame: AudioFrame) -> Transcript | None:
        """Add audio; may return a partial transcript (engines without partials return None)."""
        ...

    async def pause(self) -> Transcript | None:
        """The caller paused: decode the audio so far and return that speculative (non-final)
        transcript; if no audio follows, ``finish()`` reuses it, so the final is ready sooner."""
        ...

    async def finish(self) -> Transcript:
        """The turn ended: return the final transcript."""
        ...

    def cancel(self) -> None:
        """Drop the utterance (e.g. it was noise); frees any pending work."""
        ...


class SpeechRecognizer(Protocol):
    """A loaded ASR model shared by all calls."""

    name: str

    def open_stream(self, sample_rate: int, hints: RecognitionHints) -> RecognitionStream: ...

    def warm_up(self) -> None:
        """Blocking: small decodes, run at start-up on every inference thread (buffers, lazy init)."""
        ...


class SpeechSynthesizer(Protocol):
    """A loaded TTS voice shared by all calls. Yields PCM at ``sample_rate``, sentence by sentence."""

    name: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[bytes]: ...

    def warm_up(self) -> None:
        """Blocking: one long sentence, run at start-up on every inference thread."""
        ...


class SentenceEmbedder(Protocol):
    """Text -> L2-normalised vectors (shared model)."""

    dimension: int

    def embed(self, texts: Sequence[str]) -> Any:  # numpy float32 array (n, dimension)
        ...


class LanguageUnderstanding(Protocol):
    """Utterance -> intent, entities and emotion for one dialog (trained from its flows)."""

    async def understand(self, text: str, transcript_confidence: float = 1.0,
                         expected_slot: str | None = None, signals: CallerSignals | None = None,
                         heard_otherwise: Sequence[tuple[str, float]] = ()) -> Understanding:
        """``heard_otherwise``: the recogniser's other readings of the same audio (``Transcript.alternatives``)."""
        ...


class EmotionDetector(Protocol):
    def detect(self, text: str, signals: CallerSignals | None = None) -> Emotion: ...


class CallStore(Protocol):
    """Where call records go. Every method returns quickly and never raises into a call."""

    async def call_started(self, call_id: str, caller_id: str, flow: str, started_at: float) -> None: ...

    async def turn_completed(self, call_id: str, turn: Turn) -> None: ...

    async def event(self, call_id: str, kind: str, data: dict[str, Any], at: float | None = None) -> None:
        """``at``: when it happened (epoch or monotonic seconds); None: now."""
        ...

    async def call_ended(self, call_id: str, outcome: CallOutcome, ended_at: float,
                         handoff: HandoffPacket | None) -> None: ...

    async def close(self) -> None:
        """Flush everything pending."""
        ...


class CallQueries(Protocol):
    """The read side of the call records (``store/queries.py``): typed records, never dicts."""

    async def get_call(self, call_id: str) -> CallRecord | None:
        """The call with its turns and events, or None."""
        ...

    async def list_calls(self, limit: int = 50, offset: int = 0, outcome: str | None = None) -> list[CallRecord]:
        """Newest first, without turns and events (``turn_count`` says how many turns)."""
        ...

    async def handoff_for(self, call_id: str) -> dict[str, Any] | None:
        """The stored handoff packet (JSON), or None when the call was not handed off (or is unknown)."""
        ...


class PlaybackHandle(Protocol):
    """One queued bot utterance, as the session follows it."""

    started: asyncio.Event  # set when its first frame went out
    done: asyncio.Future[bool]  # True: played to the end; False: cancelled
    first_frame_at: float | None


class AudioOutput(Protocol):
    """The paced outbound audio of one call (``audio/player.py``'s ``Player``)."""

    tap: Callable[[bytes, float], None] | None  # gets every message written and its time (a call recording)

    def play(self, audio: bytes | AsyncIterator[bytes], interruptible: bool = True,
             sample_rate: int | None = None) -> PlaybackHandle: ...

    def cancel(self, include_uninterruptible: bool = False) -> int:
        """Stop the current and queued interruptible utterances; returns how many were cancelled."""
        ...

    @property
    def speaking(self) -> bool: ...

    async def drain(self) -> None:
        """Wait until every queued utterance has played or been cancelled."""
        ...


class CallRecorderTap(Protocol):
    """Where a recorded call's audio goes (``audio/recording.py``'s ``CallRecording``): each call returns at
    once, whatever the disk does."""

    def caller(self, frame: AudioFrame) -> None:
        """A frame of the caller's audio, as it arrived."""
        ...

    def bot(self, message: bytes, at: float) -> None:
        """An AudioSocket audio message as the player wrote it at ``at`` (monotonic seconds)."""
        ...

    def close(self) -> Awaitable[Any]:
        """The call is over: the file is finished (in the background); awaiting gives it, or None."""
        ...

    def discard(self) -> Awaitable[Any]:
        """No recording for this call after all (the caller declined): what was written is deleted."""
        ...


class CallChannel(Protocol):
    """One call's media connection, exactly as the session uses it (AudioSocket's ``CallConnection``)."""

    @property
    def call_id(self) -> str: ...

    @property
    def sample_rate(self) -> int:
        """The call's rate when the session starts (it then follows the rate of the audio frames)."""
        ...

    @property
    def player(self) -> AudioOutput: ...

    @property
    def shutdown_requested(self) -> asyncio.Event:
        """Set when the service is stopping: the call should go to a human."""
        ...

    def events(self) -> AsyncIterator[InboundEvent]:
        """Audio frames and DTMF in arrival order, then exactly one ``Hangup``. One consumer per call."""
        ...

    async def hangup(self, drain: bool = True) -> None:
        """Let queued audio finish if ``drain``, then end the call's media leg. Idempotent."""
        ...


class TelephonyError(Exception):
    """The PBX refused an action (its message is the error's text) or could not be reached in time."""


class TelephonyControl(Protocol):
    """Call and queue control on the PBX (``telephony/ami.py`` speaks Asterisk's AMI). Every action
    raises :class:`TelephonyError` when the PBX refuses it or is unreachable."""

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        """Place a call; returns once it was answered or failed."""
        ...

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        """Send a channel to another place in the dialplan."""
        ...

    async def set_variable(self, channel: str, name: str, value: str) -> None: ...

    async def add_queue_member(self, queue: str, interface: str, name: str = "", penalty: int = 0,
                               paused: bool = False) -> None: ...

    async def remove_queue_member(self, queue: str, interface: str) -> None: ...

    async def pause_queue_member(self, interface: str, paused: bool, queue: str | None = None,
                                 reason: str = "") -> None:
        """Pause (or resume) a member in ``queue``, or in every queue when ``queue`` is None."""
        ...

    async def queue_status(self, queue: str | None = None) -> list[QueueStatus]:
        """Every queue (or one), with its members and waiting callers."""
        ...

    def events(self) -> AsyncIterator[TelephonyEvent]:
        """Unsolicited PBX events from now on, one stream per consumer; a slow consumer loses the oldest."""
        ...
