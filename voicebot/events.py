"""Events: the one vocabulary of what happens in a call, for the listener, the session and every subscriber.

Two families share :class:`EventType`:

* **Hearing events** (:class:`SpeechStarted`, :class:`BargeIn`, :class:`PartialTranscript`,
  :class:`Utterance`, :class:`NoiseDiscarded`): what ``speech/listener.py`` hears, on the monotonic
  clock of :func:`voicebot.types.now`, without a call id (the listener does not know the call).
* **Call events** (:class:`CallEvent` and its subclasses): what the session publishes on the bus, the
  outward API (agent desktop, QA, wallboard, metrics, the call recorder). Each has a ``call_id`` and
  ``at`` in wall-clock epoch seconds, and turns into a JSON-ready dict with :meth:`CallEvent.to_json`
  (``{"type": "barge_in", "call_id": …, "at": …, <fields>}``); :func:`from_json` parses it back.

This module is low in the import graph (it imports only ``voicebot.types``) so that ``speech/``,
``call/``, ``store/`` and ``web/`` can all use it. The buses live in ``voicebot/call/``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import TypeAdapter

from voicebot.types import AudioFrame, HandoffPacket, Transcript, Turn


class EventType(StrEnum):
    """The ``type`` of every event, as it appears in JSON and in the call record's ``events.kind``."""

    CALL_STARTED = "call_started"
    CALL_STATE_CHANGED = "call_state_changed"
    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"
    TRANSCRIPT = "transcript"
    NOISE_DISCARDED = "noise_discarded"
    BARGE_IN = "barge_in"
    DTMF = "dtmf"
    PLAYBACK_STARTED = "playback_started"
    PLAYBACK_FINISHED = "playback_finished"
    TURN_COMPLETED = "turn_completed"
    HANDED_OFF = "handed_off"
    CALL_FAULT = "call_fault"
    SURVEY_ANSWERED = "survey_answered"
    CALL_ENDED = "call_ended"
    AGENT_PRESENCE = "agent_presence"


class CallState(StrEnum):
    """Where a call is, as a wallboard shows it."""

    RINGING_IN = "ringing_in"  # connected; the bot has not spoken yet
    LISTENING = "listening"  # the bot is quiet and waits for the caller
    THINKING = "thinking"  # the caller's input is being understood and answered
    SPEAKING = "speaking"  # a bot prompt is playing
    HANDED_OFF = "handed_off"  # on its way to a human
    ENDED = "ended"


def wall_clock(monotonic: float) -> float:
    """Epoch seconds of a :func:`voicebot.types.now` reading (hearing events' clock)."""
    return time.time() - (time.monotonic() - monotonic)


# ------------------------------------------------------------------------------------------------------
# Hearing events (speech/listener.py)
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    type: ClassVar[EventType] = EventType.SPEECH_STARTED
    at: float


@dataclass(frozen=True, slots=True)
class BargeIn:
    """Real words while the bot speaks: the session stops the player."""

    type: ClassVar[EventType] = EventType.BARGE_IN
    at: float
    text: str


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    type: ClassVar[EventType] = EventType.TRANSCRIPT
    transcript: Transcript


@dataclass(frozen=True, slots=True)
class Utterance:
    """A finished caller turn: the speech ended and its final transcript is ready. ``first_pause`` is when
    the speculative decode started (None if the turn ended before any pause, e.g. at ``max_utterance_s``);
    ``audio`` the turn's audio as the recogniser heard it, for a second hearing (``call/hearing.py``)."""

    type: ClassVar[EventType] = EventType.SPEECH_ENDED
    transcript: Transcript
    speech_start: float
    speech_end: float
    first_pause: float | None
    final_at: float
    audio: AudioFrame | None = None


@dataclass(frozen=True, slots=True)
class NoiseDiscarded:
    type: ClassVar[EventType] = EventType.NOISE_DISCARDED
    at: float
    reason: str  # "no words" | "backchannel" | "rate changed"


HearingEvent = SpeechStarted | BargeIn | PartialTranscript | Utterance | NoiseDiscarded


# ------------------------------------------------------------------------------------------------------
# Call events (the bus)
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something that happened in call ``call_id`` at ``at`` (wall-clock epoch seconds)."""

    type: ClassVar[EventType]
    call_id: str
    at: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        return self.type.value

    def data(self) -> dict[str, Any]:
        """The event's fields other than call_id and at, JSON-ready."""
        values = self.to_json()
        for key in ("type", "call_id", "at"):
            values.pop(key)
        return values

    def to_json(self) -> dict[str, Any]:
        """``{"type": …, "call_id": …, "at": …, <fields>}`` with JSON types only; :func:`from_json` reverses it."""
        return {"type": self.type.value, **_adapter(type(self)).dump_python(self, mode="json", fallback=str)}


@dataclass(frozen=True, slots=True)
class CallStarted(CallEvent):
    type: ClassVar[EventType] = EventType.CALL_STARTED
    caller_id: str
    flow: str
    sample_rate: int


@dataclass(frozen=True, slots=True)
class CallStateChanged(CallEvent):
    """The call moved to ``state``; never published twice in a row with the same state."""

    type: ClassVar[EventType] = EventType.CALL_STATE_CHANGED
    state: CallState
    previous: CallState | None


@dataclass(frozen=True, slots=True)
class SpeechStartedEvent(CallEvent):
    type: ClassVar[EventType] = EventType.SPEECH_STARTED


@dataclass(frozen=True, slots=True)
class SpeechEndedEvent(CallEvent):
    type: ClassVar[EventType] = EventType.SPEECH_ENDED
    duration_s: float


@dataclass(frozen=True, slots=True)
class TranscriptEvent(CallEvent):
    type: ClassVar[EventType] = EventType.TRANSCRIPT
    text: str
    confidence: float
    is_final: bool


@dataclass(frozen=True, slots=True)
class NoiseDiscardedEvent(CallEvent):
    """The caller made a sound the bot ignored (no words, a backchannel while it spoke)."""

    type: ClassVar[EventType] = EventType.NOISE_DISCARDED
    reason: str


@dataclass(frozen=True, slots=True)
class DtmfEvent(CallEvent):
    """A key the caller pressed; at a sensitive question (a PIN) ``digit`` is ``MASKED_KEY``, never the key."""

    type: ClassVar[EventType] = EventType.DTMF
    digit: str


MASKED_KEY = "?"  # not a keypad key: the key of a sensitive entry


@dataclass(frozen=True, slots=True)
class PlaybackStarted(CallEvent):
    """A bot prompt was queued for playing; ``utterance_id`` names it in every later event about it."""

    type: ClassVar[EventType] = EventType.PLAYBACK_STARTED
    text: str
    utterance_id: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished(CallEvent):
    type: ClassVar[EventType] = EventType.PLAYBACK_FINISHED
    text: str
    completed: bool  # False: cut off by barge-in or hangup
    utterance_id: str


@dataclass(frozen=True, slots=True)
class BargeInEvent(CallEvent):
    """The caller's words cut off the bot; ``utterance_id`` is the prompt that was playing."""

    type: ClassVar[EventType] = EventType.BARGE_IN
    text: str
    utterance_id: str | None


@dataclass(frozen=True, slots=True)
class TurnCompleted(CallEvent):
    """A caller turn and the bot's answer, with the time of every stage (``Turn.marks``, monotonic). ``turn`` is
    masked; ``sealed`` is its clear text encrypted (``store/audit.py``) when ``pii.keep_unmasked`` and masking
    changed it, else empty."""

    type: ClassVar[EventType] = EventType.TURN_COMPLETED
    turn: Turn
    sealed: str = ""


@dataclass(frozen=True, slots=True)
class HandedOff(CallEvent):
    type: ClassVar[EventType] = EventType.HANDED_OFF
    packet: HandoffPacket


@dataclass(frozen=True, slots=True)
class CallFault(CallEvent):
    type: ClassVar[EventType] = EventType.CALL_FAULT
    stage: str
    error: str


@dataclass(frozen=True, slots=True)
class SurveyAnswered(CallEvent):
    """The caller answered a survey step (``survey: <question>`` in a flow) with ``score`` (1-5), by ``via``
    (speech or dtmf): the post-call survey, linked to the call, which the reports count as CSAT."""

    type: ClassVar[EventType] = EventType.SURVEY_ANSWERED
    flow: str
    question: str  # the survey step's slot, e.g. satisfaction
    score: int
    via: str


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    type: ClassVar[EventType] = EventType.CALL_ENDED
    outcome: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentPresence(CallEvent):
    """An agent's presence changed (``telephony/presence.py``), so every worker's desktop shows it: ``call_id`` is
    the call they are on ("" for none); ``origin`` the worker whose desk made the change (it ignores its own)."""

    type: ClassVar[EventType] = EventType.AGENT_PRESENCE
    agent: str
    state: str  # available, on_call, wrap_up, break, offline
    reason: str
    queue: str | None
    origin: str


CALL_EVENTS: Mapping[str, type[CallEvent]] = {cls.type.value: cls for cls in (SurveyAnswered,
    CallStarted, CallStateChanged, SpeechStartedEvent, SpeechEndedEvent, TranscriptEvent, NoiseDiscardedEvent,
    DtmfEvent, PlaybackStarted, PlaybackFinished, BargeInEvent, TurnCompleted, HandedOff, CallFault, CallEnded,
    AgentPresence)}


def from_json(data: Mapping[str, Any]) -> CallEvent:
    """The event a :meth:`CallEvent.to_json` dict describes. Raises ``ValueError`` for an unknown type or
    bad fields."""
    cls = CALL_EVENTS.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown call event type {data.get('type')!r}")
    return _adapter(cls).validate_python({k: v for k, v in data.items() if k != "type"})


@functools.cache
def _adapter(cls: type[CallEvent]) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


class Bus(Protocol):
    """What every event bus offers (in process: ``call/events.py``; Redis: ``call/bus_redis.py``)."""

    def publish(self, event: CallEvent) -> None:
        """Hand the event to every subscriber; never waits, never raises."""
        ...

    def subscribe(self, *, lossless: bool = False) -> AsyncIterator[CallEvent]:
        """Events from now on, until :meth:`close`. A plain subscription is bounded and loses its oldest
        events when it falls behind; a ``lossless`` one (the call recorder) gets every event of this
        process, in order, and its backlog is watched instead."""
        ...

    async def close(self) -> None:
        """No more events: every subscription ends once it has taken the events already queued for it."""
        ...
