"""What the dialplan tells voicebot about a call before it connects (caller id, dialled number, flow),
and which flow the call runs.

AudioSocket carries only the call's UUID. The dialplan announces the rest over HTTP just before
``AudioSocket()`` (``POST /api/calls/{uuid}/announce``); the session takes it when the call connects.
Announcements that are never taken (a call that failed to connect) expire. After the bot lets go, the
dialplan looks up where the call goes (``GET /api/calls/{uuid}/handoff``); the directory notes those
lookups, so a stopping service can wait until the calls it handed over have been looked up.

:class:`CallDirectory` is what the session and the web app use. :class:`MemoryCallDirectory` (one worker)
keeps it all in process; :class:`voicebot.call.directory_redis.RedisCallDirectory` (``events.bus = redis``)
shares it between workers, so the announcement, the AudioSocket connection and the lookup of one call may
each reach another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from voicebot.types import now

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CallInfo:
    caller_id: str = ""
    dnis: str = ""  # the number the caller dialled: picks the flow through settings.dialog.routes
    flow: str | None = None  # an explicit flow overrides the route
    variables: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"caller_id": self.caller_id, "dnis": self.dnis, "flow": self.flow, "variables": self.variables}

    @classmethod
    def from_json(cls, data: Any) -> CallInfo:
        """From :meth:`to_json`'s shape; ``ValueError`` for anything else."""
        if not isinstance(data, dict):
            raise ValueError("a call announcement is a JSON object")
        caller_id, dnis, flow, variables = (data.get("caller_id", ""), data.get("dnis", ""), data.get("flow"),
                                            data.get("variables", {}))
        if not (isinstance(caller_id, str) and isinstance(dnis, str) and (flow is None or isinstance(flow, str))
                and isinstance(variables, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items())):
            raise ValueError("a call announcement's fields are strings")
        return cls(caller_id=caller_id, dnis=dnis, flow=flow, variables=variables)


class CallDirectory(Protocol):
    """Announcements waiting for their call, and the dialplan's handoff lookups. No method raises."""

    async def announce(self, call_id: str, info: CallInfo) -> None:
        """The dialplan's announcement of a call (kept until taken or expired)."""

    async def take(self, call_id: str) -> CallInfo:
        """The call's announcement (removed), or an empty CallInfo when the dialplan sent none."""

    async def handoff_looked_up(self, call_id: str) -> None:
        """The dialplan asked where this call goes."""

    async def wait_for_lookups(self, call_ids: Collection[str], timeout_s: float) -> set[str]:
        """Wait until every one of ``call_ids`` has been looked up, at most ``timeout_s``; the ids that never
        were."""

    async def close(self) -> None:
        """Release what the directory holds open."""


class MemoryCallDirectory:
    """:class:`CallDirectory` in this process: a small, bounded, expiring map of call UUID -> CallInfo."""

    def __init__(self, ttl_s: float = 120.0, capacity: int = 10_000) -> None:
        self._ttl_s, self._capacity = ttl_s, capacity
        self._entries: OrderedDict[str, tuple[float, CallInfo]] = OrderedDict()
        self._looked_up: OrderedDict[str, None] = OrderedDict()  # handoff lookups, newest last
        self._lookup = asyncio.Event()

    async def handoff_looked_up(self, call_id: str) -> None:
        self.note_lookup(call_id)

    def note_lookup(self, call_id: str) -> None:
        self._looked_up[call_id.lower()] = None
        while len(self._looked_up) > self._capacity:
            self._looked_up.popitem(last=False)
        self._lookup.set()

    def not_looked_up(self, call_ids: Collection[str]) -> set[str]:
        """Those of ``call_ids`` (lower case) not looked up here."""
        return {c for c in call_ids if c not in self._looked_up}

    async def next_lookup(self, timeout_s: float) -> None:
        """Return at the next lookup noted here, or after ``timeout_s``."""
        self._lookup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lookup.wait(), max(0.0, timeout_s))

    async def wait_for_lookups(self, call_ids: Collection[str], timeout_s: float) -> set[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiting = {c.lower() for c in call_ids}
        while (waiting := self.not_looked_up(waiting)) and loop.time() < deadline:
            await self.next_lookup(deadline - loop.time())
        return waiting

    async def announce(self, call_id: str, info: CallInfo) -> None:
        self.keep(call_id, info)

    def keep(self, call_id: str, info: CallInfo) -> None:
        self._expire()
        self._entries[call_id.lower()] = (now() + self._ttl_s, info)
        self._entries.move_to_end(call_id.lower())
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    async def take(self, call_id: str) -> CallInfo:
        return self.pop(call_id) or CallInfo()

    def pop(self, call_id: str) -> CallInfo | None:
        """The call's announcement (removed), None when there is none."""
        self._expire()
        entry = self._entries.pop(call_id.lower(), None)
        return entry[1] if entry else None

    async def close(self) -> None:
        return None

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
