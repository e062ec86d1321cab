"""What a flow calls to offer a callback or a ticket (``call: {function: …}`` steps), registered on the
flows' action registry by the composition root:

* ``queue_wait`` (params ``queue``, ``priority``; AMI only): where the caller would go now and how long they
  would wait there, from the bundle's ``routing:`` plan and the queues' live state: ``{queue, open,
  overflowed, wait_s, minutes, offer_callback}`` (``wait_s`` -1 when nobody staffs the queue).
* ``request_callback`` (params ``queue``, ``priority``, optional ``number``, default the caller id; AMI only):
  a callback that holds the caller's place from now (``store/callbacks.py``); ``{reference, queued}``,
  ``queued`` false when the number already had one (it keeps its earlier place).
* ``request_ticket`` (params ``queue``, optional ``number``, default the caller id, and ``note``), for a caller
  who prefers a ticket: a ticket opened in the tickets list (``store/tickets.py``) with the number as its
  ``contact`` (none when it is not a number, e.g. a withheld caller id) and noted among the call's desk actions;
  ``{reference}`` (``T-000042``, as the tickets pages show it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from voicebot.call.routing import RoutingPlan, choose_queue, offer_callback
from voicebot.dialog.actions import ActionRegistry
from voicebot.engines import TelephonyControl
from voicebot.store.callbacks import SqlCallbackQueue
from voicebot.store.desktop import SqlDeskStore
from voicebot.store.tickets import SqlTicketStore, caller_contact

TICKET_AUTHOR = "voicebot"  # the desk action's user: the caller asked the bot, not an agent


class CallbackOffer:
    """The two flow functions over the PBX's queue state and the durable callback queue."""

    def __init__(self, control: TelephonyControl, requests: SqlCallbackQueue,
                 plan_for: Callable[[str], RoutingPlan], queue_prefix: str) -> None:
        self.control = control
        self.requests = requests
        self.plan_for = plan_for  # flow bundle name -> its routing plan
        self.queue_prefix = queue_prefix

    def register(self, registry: ActionRegistry) -> ActionRegistry:
        registry.register("queue_wait")(self.queue_wait)
        registry.register("request_callback")(self.request_callback)
        return registry

    async def queue_wait(self, context: dict[str, Any]) -> dict[str, Any]:
        params = context.get("params") or {}
        queue, priority = str(params.get("queue") or "general"), int(params.get("priority") or 0)
        plan = self.plan_for(str(context.get("flow") or ""))
        statuses = {s.queue.removeprefix(self.queue_prefix): s for s in await self.control.queue_status()
                    if s.queue.startswith(self.queue_prefix)}
        choice = choose_queue(plan, queue, datetime.now(UTC), priority, statuses)
        seconds = choice.wait.seconds if choice.wait is not None else None
        return {
            "queue": choice.queue,
            "open": choice.open,
            "overflowed": choice.overflowed,
            "wait_s": -1 if seconds is None else round(seconds),
            "minutes": 0 if seconds is None else math.ceil(seconds / 60),
            "offer_callback": offer_callback(choice, plan.queue(queue).max_wait_s),
        }

    async def request_callback(self, context: dict[str, Any]) -> dict[str, Any]:
        params = context.get("params") or {}
        number = str(params.get("number") or context.get("caller_id") or "")
        request = await self.requests.request(str(context.get("call_id") or ""), number,
                                              str(params.get("queue") or "general"),
                                              int(params.get("priority") or 0), datetime.now(UTC))
        return {"reference": request.id[:8].upper(), "queued": request.call_id == context.get("call_id")}


class TicketRequest:
    """The ``request_ticket`` flow function over the tickets and the desk actions."""

    def __init__(self, tickets: SqlTicketStore, desk: SqlDeskStore) -> None:
        self.tickets = tickets
        self.desk = desk

    def register(self, registry: ActionRegistry) -> ActionRegistry:
        registry.register("request_ticket")(self.request_ticket)
        return registry

    async def request_ticket(self, context: dict[str, Any]) -> dict[str, Any]:
        params = context.get("params") or {}
        call_id = str(context.get("call_id") or "")
        queue = str(params.get("queue") or "general")
        number = str(params.get("number") or context.get("caller_id") or "")
        note = str(params.get("note") or "")
        ticket = await self.tickets.open(
            title=note or f"Call the caller back ({queue})", call_id=call_id or None, queue=queue,
            contact=caller_contact(number),
            description="The caller asked for a ticket instead of waiting.", source="flow",
            created_by=str(context.get("flow") or TICKET_AUTHOR))
        await self.desk.add_action(call_id, TICKET_AUTHOR, "ticket", {
            "reference": ticket.reference, "queue": queue, "number": number, "note": note})
        return {"reference": ticket.reference}
