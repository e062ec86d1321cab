"""The queue recorder: AMI queue events become report rows (bot queue name, call, member, times), other events
are ignored, and rows wait while the database is away, written again once it answers, never twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from voicebot.reports.recorder import QueueRecorder, queue_event
from voicebot.store.reports import AgentState, QueueEvent
from voicebot.types import TelephonyEvent


def ami(name: str, **fields: str) -> TelephonyEvent:
    return TelephonyEvent(name=name, fields={"Event": name, "Privilege": "agent,all", **fields}, at=0.0)


def test_an_agent_connect_becomes_a_row_with_the_call_and_the_member() -> None:
    event = ami("AgentConnect", Timestamp="1790000000.5", Queue="voicebot-cards", Uniqueid="17.3",
                CallerIDNum="+15550001", Interface="PJSIP/1001", MemberName="ann", HoldTime="14", RingTime="3",
                DestChanVariable="VOICEBOT_UUID=abc")
    row = queue_event(event, "voicebot-")
    assert row is not None
    assert (row.queue, row.unique_id, row.call_id, row.agent, row.hold_s, row.ring_s) == (
        "cards", "17.3", "abc", "ann", 14.0, 3.0)
    assert row.at.timestamp() == 1790000000.5
    same = ami("AgentConnect", **{**event.fields, "Privilege": "call,all"})  # another worker's login
    assert queue_event(same, "voicebot-").id == row.id
    assert queue_event(ami("Newchannel", Queue="voicebot-cards"), "voicebot-") is None
    assert queue_event(ami("QueueCallerJoin"), "voicebot-") is None  # no queue


class Pbx:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[TelephonyEvent] = asyncio.Queue()

    def events(self) -> AsyncIterator[TelephonyEvent]:
        async def stream() -> AsyncIterator[TelephonyEvent]:
            while True:
                yield await self.queue.get()
        return stream()


class FlakyStore:
    """Refuses the first ``failures`` writes (the database is away), then keeps what it is given."""

    def __init__(self, failures: int) -> None:
        self.failures, self.rows, self.states = failures, {}, []

    async def add_queue_events(self, events: list[QueueEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is down")
        self.rows.update({e.id: e for e in events})

    async def add_agent_states(self, states: list[AgentState]) -> None:
        self.states += states


async def test_rows_wait_while_the_database_is_away() -> None:
    pbx, store = Pbx(), FlakyStore(failures=2)
    recorder = QueueRecorder(pbx, None, store, "voicebot-", retry_s=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(recorder.run())
    for n in range(3):
        pbx.queue.put_nowait(ami("QueueCallerJoin", Queue="voicebot-banking", Uniqueid=f"1.{n}", Timestamp=f"17900.{n}"))
    for _ in range(200):
        if len(store.rows) == 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert sorted(row.unique_id for row in store.rows.values()) == ["1.0", "1.1", "1.2"]
    assert store.failures == 0 and not recorder._rows and recorder.dropped == 0
