"""The protocols every engine implements. Real implementations live beside their concern
(``speech/``, ``nlu/``, ``store/``); fakes for tests live in ``tests/fakes.py``.

Engines that hold model weights are created once at start-up (``app.py``), warmed, and shared by all
calls. Per-call state lives in the small objects they hand out (a recognition stream, a VAD state).
Blocking inference runs in the shared bounded executor, never on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, runtime_checkable

from voicebot.store.records import CallRecord
from voicebot.types import (
    AudioFrame,
    CallOutcome,
    Emotion,
    HandoffPacket,
    RecognitionHints,
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
                         expected_slot: str | None = None) -> Understanding: ...


class EmotionDetector(Protocol):
    def detect(self, text: str) -> Emotion: ...


class CallStore(Protocol):
    """Where call records go. Every method returns quickly and never raises into a call."""

    async def call_started(self, call_id: str, caller_id: str, flow: str, started_at: float) -> None: ...

    async def turn_completed(self, call_id: str, turn: Turn) -> None: ...

    async def event(self, call_id: str, kind: str, data: dict[str, Any]) -> None: ...

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
