"""The callback scheduler: calls a customer back when their place in the queue reaches the front.

Every ``poll_interval_s``, and at once when an AMI event says a queue moved, it reads the waiting requests
(``store/callbacks.py``) and the queues' live state (``QueueStatus``). A request is due when fewer callers
outrank it than agents are idle: a caller waiting in the queue outranks it with a higher priority, or the
same priority and a longer wait than the time since the request's caller first joined; so a callback never
jumps a caller who waited longer. An agent's scheduled callback waits for its time (``not_before``) and then
queues like a caller joining then. A due request is claimed in the database (at most one scheduler wins it),
then the customer is called through ``TelephonyControl.originate``; once they answer, the dialplan's
``[voicebot-callback]`` queues them at their place (``VOICEBOT_POSITION``) with their priority. A dial cut
short by a stop or a restart is dialled again at the request's place, once it has surely ended, up to
``callbacks.max_attempts`` dials in all.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError

from voicebot.call.routing import DEVICE_NOT_INUSE
from voicebot.config import CallbackSettings
from voicebot.engines import TelephonyControl, TelephonyError
from voicebot.store.callbacks import WAITING, CallbackRequest, SqlCallbackQueue
from voicebot.types import OriginateRequest, QueueStatus

log = structlog.get_logger(__name__)

# AMI events after which a waiting callback may have reached the front.
QUEUE_MOVED = frozenset({"QueueCallerLeave", "QueueCallerAbandon", "AgentComplete", "QueueMemberStatus",
                         "QueueMemberPause", "QueueMemberAdded"})


@dataclass(frozen=True, slots=True)
class Dialled:
    """One callback dialled by :meth:`CallbackScheduler.tick`."""

    request: CallbackRequest
    answered: bool
    channel: str
    result: str


def outranking(request: CallbackRequest, status: QueueStatus, at: datetime) -> int:
    """The callers waiting in the queue whom ``Queue()`` serves before the request's caller."""
    waited = (at - request.joined_at).total_seconds()
    return sum(1 for e in status.entries
               if e.priority > request.priority or (e.priority == request.priority and e.wait_s >= waited))


def idle_members(status: QueueStatus) -> int:
    return sum(1 for m in status.members if not m.paused and not m.in_call and m.status == DEVICE_NOT_INUSE)


class CallbackScheduler:
    """Dials due callbacks; run by the composition root when AMI is enabled. ``queue_prefix``: Asterisk's
    queue name is the prefix and the bot's queue name (``desktop.queue_prefix``)."""

    def __init__(self, requests: SqlCallbackQueue, control: TelephonyControl, settings: CallbackSettings,
                 queue_prefix: str, action_timeout_s: float) -> None:
        self.requests = requests
        self.control = control
        self.settings = settings
        self.queue_prefix = queue_prefix
        # A claim older than this whose dial never finished was cut short (a stop), and that dial has ended by now:
        # it waits again at its place (or fails after max_attempts dials).
        self.interrupted_after = timedelta(seconds=settings.ring_timeout_s + 2 * action_timeout_s)

    async def run(self) -> None:
        """Tick until cancelled: every ``poll_interval_s``, and at once when the PBX says a queue moved (a
        caller left, an agent finished or changed state). A PBX or a database that does not answer is tried
        again at the next tick."""
        moved = asyncio.Event()

        async def listen() -> None:
            async for event in self.control.events():
                if event.name in QUEUE_MOVED:
                    moved.set()

        async with asyncio.TaskGroup() as group:
            group.create_task(listen())
            while True:
                moved.clear()
                try:
                    await self.tick()
                except (TelephonyError, SQLAlchemyError) as error:
                    log.warning("callbacks: tick failed; trying again", error=str(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(moved.wait(), self.settings.poll_interval_s)

    async def tick(self) -> list[Dialled]:
        """Dial every request whose turn has come, concurrently; return what happened."""
        at = datetime.now(UTC)
        for lost in await self.requests.settle_interrupted(at - self.interrupted_after, self.settings.max_attempts):
            if lost.state == WAITING:
                log.warning("callback interrupted mid-dial; waits again at its place", callback=lost.id,
                            queue=lost.queue, attempts=lost.attempts)
            else:
                log.error("callback interrupted mid-dial too often; not dialled again", callback=lost.id,
                          queue=lost.queue, attempts=lost.attempts)
        waiting = [r for r in await self.requests.waiting() if r.not_before is None or r.not_before <= at]
        if not waiting:
            return []
        statuses = {s.queue: s for s in await self.control.queue_status()}
        due: list[tuple[CallbackRequest, int]] = []
        for queue in dict.fromkeys(r.queue for r in waiting):
            status = statuses.get(self.queue_prefix + queue)
            if status is None:
                continue
            free = idle_members(status)
            for taken, request in enumerate(r for r in waiting if r.queue == queue):
                ahead = outranking(request, status, at)
                if ahead + taken >= free:
                    break  # the rest of this queue waits behind it
                due.append((request, ahead + 1))
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._dial(request, position)) for request, position in due]
        return [d for d in (task.result() for task in tasks) if d is not None]

    async def _dial(self, request: CallbackRequest, position: int) -> Dialled | None:
        if not await self.requests.claim(request.id):
            return None  # another scheduler took it, or it was cancelled
        originate = OriginateRequest(
            channel=self.settings.channel.format(number=request.number),
            context=self.settings.context,
            exten="s",
            caller_id=self.settings.caller_id,
            timeout_s=self.settings.ring_timeout_s,
            variables={
                "VOICEBOT_CALLBACK_ID": request.id,
                "VOICEBOT_CALL_ID": request.call_id,
                "VOICEBOT_QUEUE": request.queue,
                "VOICEBOT_PRIORITY": str(request.priority),
                "VOICEBOT_POSITION": str(position),
            },
        )
        try:
            result = await self.control.originate(originate)
        except TelephonyError as error:
            await self.requests.finish(request.id, False, result=str(error))
            log.warning("callback not placed", callback=request.id, queue=request.queue, error=str(error))
            return Dialled(request, False, "", str(error))
        outcome = "answered" if result.success else f"not answered (cause {result.reason})"
        await self.requests.finish(request.id, result.success, result.channel, outcome)
        log.info("callback dialled", callback=request.id, queue=request.queue, answered=result.success,
                 position=position)
        return Dialled(request, result.success, result.channel, outcome)
