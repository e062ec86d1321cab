"""The in-process event bus, and the call events it carries (defined in ``voicebot/events.py``).

The session publishes; subscribers (the call recorder, metrics, later the agent desktop, live
supervision, QA) follow without touching the session. ``call/bus_redis.py`` implements the same
:class:`voicebot.events.Bus` over Redis for several workers.
"""

from __future__ import annotations

import asyncio
import weakref

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
    "SpeechEndedEvent", "SpeechStartedEvent", "Subscription", "TranscriptEvent", "TurnCompleted",
]

log = structlog.get_logger(__name__)

DROP_WARNING_EVERY = 100  # a subscriber that is behind is warned about at its first drop and every N after


class Subscription:
    """One subscriber's events, in order (``async for``, or ``anext``; cancelling a wait loses nothing).
    Ends once the bus closes. Dropping it unsubscribes: the bus holds subscriptions weakly."""

    def __init__(self, queue_size: int, lossless: bool, backlog_warning: int) -> None:
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue(0 if lossless else queue_size)  # None: end
        self._lossless = lossless
        self._backlog_warning = backlog_warning
        self._warn_at = backlog_warning  # lossless: the backlog that is logged next (doubles each time)
        self._dropped = 0
        self._ended = False

    @property
    def backlog(self) -> int:
        """Events waiting to be taken."""
        return self._queue.qsize()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> CallEvent:
        if self._ended:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            self._ended = True
            raise StopAsyncIteration
        return event

    def offer(self, event: CallEvent) -> None:
        """Queue one event: a plain subscription full of them loses its oldest, a lossless one grows."""
        if self._lossless:
            self._queue.put_nowait(event)
            if self.backlog >= self._warn_at:
                log.warning("lossless event subscriber is behind; its backlog grows", backlog=self.backlog)
                self._warn_at *= 2
            elif self.backlog < self._backlog_warning // 2:
                self._warn_at = self._backlog_warning
            return
        if self._queue.full():
            self._queue.get_nowait()
            if self._dropped % DROP_WARNING_EVERY == 0:
                log.warning("event subscriber is behind; dropped its oldest event", dropped=self._dropped + 1)
            self._dropped += 1
        self._queue.put_nowait(event)

    def end(self) -> None:
        """No more events: iteration stops after those already queued."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class EventBus:
    """Fan-out of call events to subscribers, each with its own queue (a :class:`voicebot.events.Bus`).

    A plain subscriber's queue holds ``queue_size`` events; one that falls behind loses its oldest events
    (with a warning): it never slows a call. A lossless subscriber (the call recorder) has an unbounded
    queue: nothing is lost, and its backlog is logged each time it doubles past ``backlog_warning``.
    """

    def __init__(self, queue_size: int = 1000, backlog_warning: int = 1000) -> None:
        self._queue_size = queue_size
        self._backlog_warning = backlog_warning
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._closed = False

    def publish(self, event: CallEvent) -> None:
        if self._closed:
            log.warning("event published after the bus closed; dropped", type=event.kind, call_id=event.call_id)
            return
        for subscription in list(self._subscriptions):
            subscription.offer(event)

    def subscribe(self, *, lossless: bool = False) -> Subscription:
        """Events published from this call on."""
        subscription = Subscription(self._queue_size, lossless, self._backlog_warning)
        if self._closed:
            subscription.end()
        else:
            self._subscriptions.add(subscription)
        return subscription

    async def close(self) -> None:
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.end()
        self._subscriptions.clear()
