"""What the dialplan tells voicebot about a call before it connects: caller id, dialled number, flow.

AudioSocket carries only the call's UUID. The dialplan announces the rest over HTTP just before
``AudioSocket()`` (``POST /api/calls/{uuid}/announce``); the session takes it when the call connects.
Announcements that are never taken (a call that failed to connect) expire.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from voicebot.types import now


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
