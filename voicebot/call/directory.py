"""What the dialplan tells voicebot about a call before it connects (caller id, dialled number, flow),
and which flow the call runs.

AudioSocket carries only the call's UUID. The dialplan announces the rest over HTTP just before
``AudioSocket()`` (``POST /api/calls/{uuid}/announce``); the session takes it when the call connects.
Announcements that are never taken (a call that failed to connect) expire. After the bot lets go, the
dialplan looks up where the call goes (``GET /api/calls/{uuid}/handoff``); the directory notes those
lookups, so a stopping service can wait until the calls it handed over have been looked up.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import structlog

from voicebot.types import now

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CallInfo:
    caller_id: str = ""
    dnis: str = ""  # the number the caller dialled: picks the flow through settings.dialog.routes
    flow: str | None = None  # an explicit flow overrides the route
    variables: dict[str, str] = field(default_factory=dict)


class CallDirectory:
    """A small, bounded, expiring map of call UUID -> CallInfo."""

    def __init__(self, ttl_s: float = 120.0, capacity: int = 10_000) -> None:
        self._ttl_s, self._capacity = ttl_s, capacity
        self._entries: OrderedDict[str, tuple[float, CallInfo]] = OrderedDict()
        self._looked_up: OrderedDict[str, None] = OrderedDict()  # handoff lookups, newest last
        self._lookup = asyncio.Event()

    def handoff_looked_up(self, call_id: str) -> None:
        """The dialplan asked where this call goes."""
        self._looked_up[call_id.lower()] = None
        while len(self._looked_up) > self._capacity:
            self._looked_up.popitem(last=False)
        self._lookup.set()

    async def wait_for_lookups(self, call_ids: Collection[str], timeout_s: float) -> set[str]:
        """Wait until every one of ``call_ids`` has been looked up, at most ``timeout_s``; the ids that never
        were."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiting = {c.lower() for c in call_ids}
        while waiting := {c for c in waiting if c not in self._looked_up}:
            self._lookup.clear()
            try:
                await asyncio.wait_for(self._lookup.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                break
        return waiting

    def announce(self, call_id: str, info: CallInfo) -> None:
        self._expire()
        self._entries[call_id.lower()] = (now() + self._ttl_s, info)
        self._entries.move_to_end(call_id.lower())
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def take(self, call_id: str) -> CallInfo:
        """The call's announcement (removed), or an empty CallInfo when the dialplan sent none."""
        self._expire()
        entry = self._entries.pop(call_id.lower(), None)
        return entry[1] if entry else CallInfo()

    def _expire(self) -> None:
        moment = now()
        while self._entries:
            call_id, (deadline, _) = next(iter(self._entries.items()))
            if deadline > moment:
                break
            del self._entries[call_id]


@dataclass(frozen=True, slots=True)
class FlowRouter:
    """Which flow a call runs: the flow its announcement names, else its dialled number's route, else the
    default flow (logged: one warning with the number and the flow used).

    ``hidden`` flows (the ``example`` template) run only when ``default_flow`` or a route names them.
    """

    default_flow: str
    routes: Mapping[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()

    def check(self, flows: Collection[str]) -> None:
        """Refuse settings that name flows which do not exist (at start-up, before any call)."""
        problems = [f"default flow {self.default_flow!r}"] if self.default_flow not in flows else []
        problems += [f"route {number!r} -> {flow!r}" for number, flow in self.routes.items() if flow not in flows]
        if problems:
            raise ValueError(f"no such flow for {', '.join(problems)}; flows: {', '.join(sorted(flows))}")

    def required(self) -> frozenset[str]:
        """The flows calls are routed to: a flow reload may not remove them."""
        return frozenset({self.default_flow, *self.routes.values()})

    def routable(self, flow: str) -> bool:
        """Whether an announcement may ask for this flow by name."""
        return flow not in self.hidden or flow == self.default_flow or flow in self.routes.values()

    def choose(self, info: CallInfo, flows: Collection[str]) -> str:
        """The flow for this call, among the loaded ``flows``."""
        if info.flow and info.flow in flows and self.routable(info.flow):
            return info.flow
        if info.flow:
            log.warning("announced flow not available; routing by the dialled number", flow=info.flow)
        routed = self.routes.get(info.dnis)
        if routed in flows:
            return routed
        if routed is not None:
            log.warning("route names a flow that is not loaded; running the default flow", dnis=info.dnis,
                        route=routed, flow=self.default_flow)
        else:
            log.warning("no route for the dialled number; running the default flow", dnis=info.dnis,
                        flow=self.default_flow)
        return self.default_flow
