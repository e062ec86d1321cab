"""The call recorder: the store's subscriber on the event bus, and the one place that decides what is kept.

The session only publishes. The recorder takes a *lossless* subscription (every event of this process,
in order, however far behind it falls: the bus watches its backlog instead of dropping) and turns events
into the write methods of the call store, which never block and spool what the database refuses. So a slow
database or a burst of calls delays records but loses none, and a call that faults still gets its record:
the session publishes its end whatever happens.

Kept: the start of a call, every completed turn (with its stage timings), the end of the call with its
handoff packet, and the events in :data:`RECORDED_EVENTS` (transcripts only when final). Everything arrives
masked (the session masks before it publishes); a turn's sealed original goes to ``originals`` when given
(``pii.keep_unmasked``).
"""

from __future__ import annotations

import asyncio

import structlog

from voicebot.engines import CallStore
from voicebot.events import (
    MASKED_KEY,
    Bus,
    CallEnded,
    CallEvent,
    CallStarted,
    DtmfEvent,
    EventType,
    HandedOff,
    TranscriptEvent,
    TurnCompleted,
)
from voicebot.store.audit import SqlPiiVault
from voicebot.types import HandoffPacket

log = structlog.get_logger(__name__)

RECORDED_EVENTS = frozenset({EventType.PLAYBACK_STARTED, EventType.BARGE_IN, EventType.DTMF, EventType.HANDED_OFF,
                             EventType.CALL_FAULT, EventType.TRANSCRIPT, EventType.SURVEY_ANSWERED})


class CallRecorder:
    """Writes the call records of the events published on ``bus``. Start with :meth:`start`."""

    def __init__(self, bus: Bus, store: CallStore, originals: SqlPiiVault | None = None) -> None:
        self._store = store
        self._originals = originals  # encrypted originals of masked turns (pii.keep_unmasked)
        self._events = bus.subscribe(lossless=True)  # registered now: no event after this is missed
        self._handoffs: dict[str, HandoffPacket] = {}  # call id -> its packet, until the call ends
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, bus: Bus, store: CallStore, originals: SqlPiiVault | None = None) -> CallRecorder:
        recorder = cls(bus, store, originals)
        recorder._task = asyncio.create_task(recorder._run(), name="call-recorder")
        return recorder

    async def close(self) -> None:
        """Wait until every event published before the bus closed is recorded (close the bus first)."""
        if self._task is not None:
            await self._task
        if self._originals is not None:
            await self._originals.close()

    async def record(self, event: CallEvent) -> None:
        """Keep what the call record needs of one event."""
        match event:
            case CallStarted(call_id=call_id, caller_id=caller_id, flow=flow, at=at):
                await self._store.call_started(call_id, caller_id, flow, at)
            case TurnCompleted(call_id=call_id, turn=turn, sealed=sealed):
                await self._store.turn_completed(call_id, turn)
                if sealed and self._originals is not None:
                    await self._originals.keep(call_id, turn.index, sealed)
            case CallEnded(call_id=call_id, outcome=outcome, at=at):
                await self._store.call_ended(call_id, outcome, at, self._handoffs.pop(call_id, None))
            case TranscriptEvent(is_final=False):
                pass
            case DtmfEvent(digit=digit) if digit == MASKED_KEY:  # a sensitive entry is not kept key by key
                pass
            case _ if event.type in RECORDED_EVENTS:
                if isinstance(event, HandedOff):
                    self._handoffs[event.call_id] = event.packet
                await self._store.event(event.call_id, event.kind, event.data(), at=event.at)

    async def _run(self) -> None:
        async for event in self._events:
            try:
                await self.record(event)
            except Exception:  # noqa: BLE001 - one bad event must not stop the records of every call
                log.exception("call event could not be recorded", type=event.kind, call_id=event.call_id)
