"""The in-process event bus, and the call events it carries (defined in ``voicebot/events.py``).

The session publishes; subscribers (the call recorder, metrics, later the agent desktop, live
supervision, QA) follow without touching the session. ``call/bus_redis.py`` implements the same
:class:`voicebot.events.Bus` over Redis for several workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog

from voicebot.events import (
    BargeInEvent,
    CallEnded,
    CallEvent,
    CallFault,
    CallStarted,
    CallStateChanged,
    DtmfEvent,
    HandedOff,
    NoiseDiscardedEvent,
    PlaybackFinished,
    PlaybackStarted,
    SpeechEndedEvent,
    SpeechStartedEvent,
    TranscriptEvent,
    TurnCompleted,
)

__all__ = [
    "BargeInEvent", "CallEnded", "CallEvent", "CallFault", "CallStarted", "CallStateChanged",
    "DtmfEvent", "EventBus", "HandedOff", "NoiseDiscardedEvent", "PlaybackFinished", "PlaybackStarted",
    "SpeechEndedEvent", "SpeechStartedEvent", "TranscriptEvent", "TurnCompleted",
]

log = structlog.get_logger(__name__)

DROP_WARNING_EVERY = 100  # a subscriber that is behind is warned about at its first drop and every N after


@dataclass(eq=False, slots=True)
class _Subscriber:
    queue: asyncio.Queue[CallEvent | None]  # None: the bus closed
    lossless: bool
    warn_at: int  # lossless: backlog that is logged next (doubles each time)
    dropped: int = field(default=0)


class EventBus:
    """Fan-out of call events to subscribers, each with its own queue (a :class:`voicebot.events.Bus`).

    A plain subscriber's queue holds ``queue_size`` events; one that falls behind loses its oldest events
    (with a warning): it never slows a call. A lossless subscriber (the call recorder) has an unbounded
    queue: nothing is lost, and its backlog is logged each time it doubles past ``backlog_warning``.
    """

    def __init__(self, queue_size: int = 1000, backlog_warning: int = 1000) -> None:
        self._queue_size = queue_size
        self._backlog_warning = backlog_warning
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    def publish(self, event: CallEvent) -> None:
        if self._closed:
            log.warning("event published after the bus closed; dropped", type=event.kind, call_id=event.call_id)
            return
        for sub in self._subscribers:
            if sub.lossless:
                sub.queue.put_nowait(event)
                if sub.queue.qsize() >= sub.warn_at:
                    log.warning("lossless event subscriber is behind; its backlog grows", backlog=sub.queue.qsize())
                    sub.warn_at *= 2
                elif sub.queue.qsize() < self._backlog_warning // 2:
                    sub.warn_at = self._backlog_warning
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                if sub.dropped % DROP_WARNING_EVERY == 0:
                    log.warning("event subscriber is behind; dropped its oldest event", dropped=sub.dropped + 1)
                sub.dropped += 1
            sub.queue.put_nowait(event)

    def subscribe(self, *, lossless: bool = False) -> AsyncIterator[CallEvent]:
        """Events published from this call on (registered at once, before the first ``anext``)."""
        sub = _Subscriber(asyncio.Queue(0 if lossless else self._queue_size), lossless, self._backlog_warning)
        if self._closed:
            sub.queue.put_nowait(None)
        else:
            self._subscribers.add(sub)
        return self._receive(sub)

    async def close(self) -> None:
        self._closed = True
        for sub in self._subscribers:
            if sub.queue.full():
                sub.queue.get_nowait()
            sub.queue.put_nowait(None)
        self._subscribers.clear()

    async def _receive(self, sub: _Subscriber) -> AsyncIterator[CallEvent]:
        try:
            while (event := await sub.queue.get()) is not None:
                yield event
        finally:
            self._subscribers.discard(sub)
