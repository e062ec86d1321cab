"""Typed call events and the in-process bus that carries them to whoever listens.

The session publishes; later features subscribe without touching the session: the agent desktop
(screen pop on ``HandedOff``), live supervision (transcripts), metrics, QA. The default bus is in
process; a Redis-backed bus can implement the same two methods for a multi-node deployment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from voicebot.types import HandoffPacket, now

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CallEvent:
    call_id: str
    at: float = field(default_factory=now, kw_only=True)

    @property
    def kind(self) -> str:
        return _snake(type(self).__name__)

    def data(self) -> dict[str, Any]:
        """The event's fields other than call_id and at, for the call record."""
        values = asdict(self)
        values.pop("call_id")
        values.pop("at")
        return values


@dataclass(frozen=True, slots=True)
class CallStarted(CallEvent):
    caller_id: str
    flow: str
    sample_rate: int


@dataclass(frozen=True, slots=True)
class SpeechStartedEvent(CallEvent):
    pass


@dataclass(frozen=True, slots=True)
class SpeechEndedEvent(CallEvent):
    duration_s: float


@dataclass(frozen=True, slots=True)
class TranscriptEvent(CallEvent):
    text: str
    confidence: float
    is_final: bool


@dataclass(frozen=True, slots=True)
class DtmfEvent(CallEvent):
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackStarted(CallEvent):
    text: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished(CallEvent):
    text: str
    completed: bool  # False: cut off by barge-in or hangup


@dataclass(frozen=True, slots=True)
class BargeInEvent(CallEvent):
    text: str


@dataclass(frozen=True, slots=True)
class HandedOff(CallEvent):
    packet: HandoffPacket


@dataclass(frozen=True, slots=True)
class CallFault(CallEvent):
    stage: str
    error: str


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    outcome: str
    reason: str


def _snake(name: str) -> str:
    out = [name[0].lower()]
    for char in name[1:]:
        out.append(f"_{char.lower()}" if char.isupper() else char)
    return "".join(out).removesuffix("_event")


class EventBus:
    """Fan-out of call events to subscribers, each with its own bounded queue.

    A slow subscriber loses its oldest events (with a warning); it never slows a call.
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[CallEvent]] = set()

    def publish(self, event: CallEvent) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
                log.warning("event subscriber is behind; dropped its oldest event")
            queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[CallEvent]:
        queue: asyncio.Queue[CallEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
